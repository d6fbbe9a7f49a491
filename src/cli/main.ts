import { Command, CommanderError } from 'commander';
import { WardenError } from '../errors.js';
import { commandsFor } from './commands/index.js';

const VERSION = '0.1.0';

export async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('warden')
    .description('Close the doors AI API infrastructure leaves open.')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const register of await commandsFor(argv)) register(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/**
 * The one place exit codes are decided: 0 clean, 1 findings (set by the command), 2 bad usage or
 * input, 3 a run that failed unexpectedly. Library code never exits the process.
 */
export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    if (err instanceof WardenError) {
      process.stderr.write(`warden: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`warden: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.stderr.write('warden: this is a bug; please report it with the command you ran (without secrets).\n');
    return 3;
  }
}
