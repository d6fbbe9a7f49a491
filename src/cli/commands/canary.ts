import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import { checkPlantings, KEY_ENVIRONMENTS, plantCanary, type CanaryInfo, type KeyEnvironment, type KeyStore, type PlantTarget } from '../../keys/index.js';
import { alignColumns } from '../../report/index.js';
import { STORE_HELP } from '../parse.js';
import { print, readStdin, scopesOf, time, withKeys, type StoreFlag } from './key-store-cli.js';

interface PlantFlags {
  intoTable?: string;
  table?: string;
  column?: string;
  set?: string[];
  intoEnv?: string;
  var?: string;
  intoLog?: string;
  intoStream?: boolean;
  line?: string;
  keepList?: string;
}

const PLANT_HELP = `
Where a canary is planted (one place per canary, so a use names the place that leaked):
  --into-table <dsn> --table <name> --column <col> [--set col=value ...]
      one new row in a ClickHouse, PostgreSQL, MySQL or SQLite table; the password comes from
      WARDEN_DB_PASSWORD or the engine's own variable, never from the string
  --into-env <file> --var <NAME>     NAME=<canary> in an env file (replaced if present)
  --into-log <file> --line <text> [--keep-list <file>]
      one line appended to a log file; {key} marks where the canary goes
  --into-stream --line <text> --keep-list <file>
      the line on stdout, to send into a log stream (logger, your app's log)
  --keep-list adds the line's SHA-256 to the list warden scrub --keep-lines reads: that exact line
  passes the scrubber unchanged, and the canary anywhere else is redacted. Stream plantings are not
  checked (a line sent is gone); the others are, by check and by warden serve.`;

function withPlantOptions(command: Command): Command {
  return command
    .option('--into-table <dsn>', 'plant as a new row of a table in this database')
    .option('--table <name>', 'table (or schema.table) for --into-table')
    .option('--column <name>', 'column that receives the canary, for --into-table')
    .option('--set <col=value...>', 'other columns of the planted row, so it reads like its neighbours')
    .option('--into-env <file>', 'plant as a variable in this env file')
    .option('--var <name>', 'variable name for --into-env')
    .option('--into-log <file>', 'plant as a line appended to this log file')
    .option('--into-stream', 'plant as a log line written to stdout, for a log stream')
    .option('--line <text>', 'the planted log line; {key} marks the canary')
    .option('--keep-list <file>', 'add the planted line to this warden scrub --keep-lines list');
}

/** The one plant target the flags name, or null when none; a half-given target is bad usage. */
function plantTarget(flags: PlantFlags): PlantTarget | null {
  const given = [flags.intoTable, flags.intoEnv, flags.intoLog, flags.intoStream].filter((v) => v !== undefined).length;
  if (given > 1) throw new UsageError('plant one place per canary: give one of --into-table, --into-env, --into-log, --into-stream');
  if (flags.keepList !== undefined && flags.intoLog === undefined && !flags.intoStream)
    throw new UsageError('--keep-list goes with --into-log or --into-stream');
  if (flags.intoTable !== undefined) {
    if (!flags.table || !flags.column) throw new UsageError('--into-table needs --table and --column');
    const set: Record<string, string> = {};
    for (const pair of flags.set ?? []) {
      const eq = pair.indexOf('=');
      if (eq < 1) throw new UsageError(`--set: expected col=value, got ${JSON.stringify(pair)}`);
      set[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    return { kind: 'table', dsn: flags.intoTable, table: flags.table, column: flags.column, set };
  }
  if (flags.intoEnv !== undefined) {
    if (!flags.var) throw new UsageError('--into-env needs --var');
    return { kind: 'env-file', path: flags.intoEnv, variable: flags.var };
  }
  if (flags.intoLog !== undefined) {
    if (!flags.line) throw new UsageError('--into-log needs --line, with {key} where the canary goes');
    return { kind: 'log', path: flags.intoLog, line: flags.line, ...(flags.keepList ? { keepList: flags.keepList } : {}) };
  }
  if (flags.intoStream) {
    if (!flags.line || !flags.keepList)
      throw new UsageError('--into-stream needs --line, with {key} where the canary goes, and --keep-list, so warden scrub lets that line through');
    return { kind: 'stream', line: flags.line, keepList: flags.keepList, write: (line) => process.stdout.write(`${line}\n`) };
  }
  return null;
}

function describeCanary(c: CanaryInfo): string[] {
  const planted = c.plantings.map(
    (p) => `${p.target} (${p.present === null ? 'not checked' : p.present ? `present at ${time(p.checkedAt)}` : `MISSING at ${time(p.checkedAt)}`})`,
  );
  return [
    c.id,
    c.display,
    c.where,
    planted.join('; ') || '-',
    c.lastSeenAt === null ? 'never' : `${time(c.lastSeenAt)} from ${c.lastSeenIp ?? 'unknown'}`,
    String(c.uses),
  ];
}

async function plantAndReport(ks: KeyStore, id: string, key: string, target: PlantTarget, json: boolean | undefined): Promise<void> {
  const planted = await plantCanary(ks, id, key, target);
  // A stream planting's stdout is the planted line alone; what was done goes to stderr.
  if (target.kind === 'stream') process.stderr.write(`planted canary ${id} in ${planted.target}\n`);
  else print({ id, planted: planted.target }, json, () => `planted canary ${id} in ${planted.target}`);
}

export function registerCanary(keys: Command): void {
  const canary = keys
    .command('canary')
    .description('Canary keys: keys no client holds, planted where a leak would carry them; any use is an incident')
    .addHelpText(
      'after',
      `
A canary looks like any live key (prefix, checksum, length). Every use (the gateway, its authz mode,
the keys API, a leak report) is refused exactly like a revoked key and recorded with the time, source
address, user agent and route; warden serve opens a canary-tripped incident and alerts at once.`,
    );

  withPlantOptions(
    canary
      .command('create')
      .description('Create a canary; plant it at once with an --into-* option, or print it once to plant by hand')
      .requiredOption('--where <label>', 'where it is planted, in your words (shown in incidents and alerts)')
      .option('--owner <owner>', 'owner a holder would see', 'svc-analytics')
      .option('--name <name>', 'name a holder would see', 'reporting')
      .option('--scopes <scopes>', 'scopes a holder would see', 'clickhouse:read')
      .addOption(new Option('--env <env>', 'key environment').choices([...KEY_ENVIRONMENTS]).default('live'))
      .option('--json', 'JSON output')
      .option('--store <location>', STORE_HELP),
  )
    .addHelpText('after', PLANT_HELP)
    .action(async (opts: StoreFlag & PlantFlags & { where: string; owner: string; name: string; scopes: string; env: KeyEnvironment; json?: boolean }) => {
      const target = plantTarget(opts);
      await withKeys(opts, async (ks) => {
        const { key, info } = await ks.createCanary({ where: opts.where, owner: opts.owner, name: opts.name, scopes: scopesOf(opts.scopes), env: opts.env });
        if (target) return plantAndReport(ks, info.id, key, target, opts.json);
        if (opts.json) return print({ key, ...info }, true, () => '');
        process.stderr.write(`canary ${info.id} (${info.display}) for ${info.where}\nThe canary follows on stdout. It is shown this once; plant it now.\n`);
        process.stdout.write(`${key}\n`);
      });
    });

  withPlantOptions(
    canary
      .command('plant')
      .description('Plant an existing canary, read from stdin (never from the command line)')
      .argument('<id>', 'canary id')
      .option('--json', 'JSON output')
      .option('--store <location>', STORE_HELP),
  )
    .addHelpText('after', PLANT_HELP)
    .action(async (id: string, opts: StoreFlag & PlantFlags & { json?: boolean }) => {
      const target = plantTarget(opts);
      if (!target) throw new UsageError('plant: give one of --into-table, --into-env, --into-log, --into-stream');
      const key = await readStdin();
      await withKeys(opts, (ks) => plantAndReport(ks, id, key, target, opts.json));
    });

  canary
    .command('list')
    .description('Canaries, where each is planted, and when each was last used')
    .option('--json', 'JSON output')
    .option('--store <location>', STORE_HELP)
    .action(async (opts: StoreFlag & { json?: boolean }) => {
      await withKeys(opts, async (ks) => {
        const list = await ks.canaries.list();
        const json = list.map((c) => ({
          ...c,
          createdAt: time(c.createdAt),
          lastSeenAt: c.lastSeenAt === null ? null : time(c.lastSeenAt),
          plantings: c.plantings.map((p) => ({ ...p, plantedAt: time(p.plantedAt), checkedAt: p.checkedAt === null ? null : time(p.checkedAt) })),
        }));
        print(json, opts.json, () =>
          list.length ? alignColumns([['ID', 'KEY', 'WHERE', 'PLANTED', 'LAST USED', 'USES'], ...list.map(describeCanary)]) : 'no canaries',
        );
      });
    });

  canary
    .command('check')
    .description('Check every planted canary is still where it was planted; exit 1 if one is gone, 3 if one could not be read')
    .option('--id <id>', 'only this canary')
    .option('--json', 'JSON output')
    .option('--store <location>', STORE_HELP)
    .action(async (opts: StoreFlag & { id?: string; json?: boolean }) => {
      await withKeys(opts, async (ks) => {
        const checks = await checkPlantings(ks, opts.id ? { keyId: opts.id } : {});
        print(checks, opts.json, () =>
          checks.length
            ? alignColumns([
                ['ID', 'PLANTED IN', 'STATE'],
                ...checks.map((c) => [c.keyId, c.target, c.present === null ? `unknown: ${c.error}` : c.present ? 'present' : 'MISSING']),
              ])
            : 'no plantings',
        );
        if (checks.some((c) => c.present === null)) process.exitCode = 3;
        else if (checks.some((c) => c.present === false)) process.exitCode = 1;
      });
    });
}
