import { Command, CommanderError } from 'commander';
import { WardenError } from '../errors.js';
import { WARDEN_VERSION } from '../version.js';
import { commandsFor } from './commands/index.js';
import { dropOutputWhenReaderLeaves, isReaderGone } from './output.js';

export async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('warden')
    .description('Close the doors AI API infrastructure leaves open.')
    .version(WARDEN_VERSION)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const register of await commandsFor(argv)) register(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/**
 * An error the operating system reported (a port in use, a refused connection, a missing file): what
 * failed is the environment, not Warden, and Node's message names the call and the address or path.
 */
function systemFailure(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (typeof e?.syscall !== 'string' || typeof e.code !== 'string') return undefined;
  const where = 'address' in e && typeof e.address === 'string' ? ` ${e.address}${'port' in e && typeof e.port === 'number' ? `:${e.port}` : ''}` : '';
  if (e.syscall === 'listen') return `cannot listen on${where}: ${e.code}`;
  if (e.syscall === 'connect') return `cannot connect to${where}: ${e.code}`;
  return e.message || `${e.syscall} ${e.code}`;
}

/**
 * The one place exit codes are decided: 0 clean, 1 findings (set by the command), 2 bad usage or
 * input, 3 a run that failed. Library code never exits the process.
 */
export async function main(argv: string[]): Promise<number> {
  dropOutputWhenReaderLeaves();
  const codeSoFar = () => (typeof process.exitCode === 'number' ? process.exitCode : 0);
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    return codeSoFar();
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    if (isReaderGone(err)) return codeSoFar();
    if (err instanceof WardenError) {
      process.stderr.write(`warden: ${err.message}\n`);
      return err.exitCode;
    }
    const failed = systemFailure(err);
    if (failed !== undefined) {
      process.stderr.write(`warden: ${failed}\n`);
      return 3;
    }
    process.stderr.write(`warden: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.stderr.write('warden: this is a bug; please report it with the command you ran (without secrets).\n');
    return 3;
  }
}
