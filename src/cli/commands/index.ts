import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Each capability registers its own subcommands. Modules are imported only when their command runs,
 * so `warden scrub` does not pay for loading database drivers; `warden --help` loads them all.
 * Add an entry here when adding a command module.
 */
export const COMMAND_MODULES: Array<{ names: string[]; load: () => Promise<Register> }> = [
  { names: ['detect'], load: async () => (await import('./detect.js')).registerDetect },
  { names: ['scrub'], load: async () => (await import('./scrub.js')).registerScrub },
  { names: ['keys'], load: async () => (await import('./keys.js')).registerKeys },
  { names: ['classify'], load: async () => (await import('./classify.js')).registerClassify },
  { names: ['retention'], load: async () => (await import('./retention.js')).registerRetention },
  { names: ['scan'], load: async () => (await import('./scan.js')).registerScan },
  { names: ['init', 'serve', 'worker', 'alert'], load: async () => (await import('./serve.js')).registerServe },
  { names: ['incident'], load: async () => (await import('./incident.js')).registerIncident },
  { names: ['gateway'], load: async () => (await import('./gateway.js')).registerGateway },
];

/** The register functions needed to run `argv`: the named command's module, or every module. */
export async function commandsFor(argv: string[]): Promise<Register[]> {
  const name = argv.find((a) => !a.startsWith('-'));
  const named = COMMAND_MODULES.find((m) => name !== undefined && m.names.includes(name));
  return Promise.all((named ? [named] : COMMAND_MODULES).map((m) => m.load()));
}
