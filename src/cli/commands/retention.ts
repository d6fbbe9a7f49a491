import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { UsageError, WardenError } from '../../errors.js';
import { DEFAULT_SAMPLE_SIZE } from '../../classify/index.js';
import { openDatabase } from '../../db/index.js';
import { getDefaultDetector, loadFingerprintKey } from '../../detect/index.js';
import {
  applyRetention,
  createAuditLog,
  DEFAULT_APPLY_OPTIONS,
  deletionSummary,
  formatApplyTable,
  formatPlanTable,
  loadPolicy,
  planRetention,
  planToJson,
  type ApplyResult,
  type RetentionPlan,
} from '../../retention/index.js';
import { toJson } from '../../report/index.js';
import { parseDuration, parsePositiveInt } from '../parse.js';

interface CommonOptions {
  policy: string;
  asOf?: string;
  format?: 'table' | 'json';
  allowZeroWindow?: boolean;
  nativeTtl?: boolean;
  sampleSize: string;
}

interface ApplyFlags extends CommonOptions {
  dryRun?: boolean;
  yes?: boolean;
  batchSize: string;
  pause: string;
  maxLock: string;
  mutationTimeout: string;
  auditLog?: string;
}

/** The run's one clock reading. `--as-of` may only look back: a future clock would delete rows still inside their window. */
function runClock(asOf: string | undefined): Date {
  const now = new Date();
  if (asOf === undefined) return now;
  const at = new Date(asOf);
  if (Number.isNaN(at.getTime())) throw new UsageError(`--as-of: expected an ISO-8601 time, got ${JSON.stringify(asOf)}`);
  if (at.getTime() > now.getTime()) throw new UsageError('--as-of: must not be in the future (that would delete rows still inside their window)');
  return at;
}

function withCommon(cmd: Command): Command {
  return cmd
    .argument('<dsn...>', 'stores to act on (same forms as warden classify)')
    .requiredOption('--policy <file>', 'retention policy (YAML; schema/retention-policy.schema.json)')
    .option('--as-of <time>', 'compute cutoffs from this past instant instead of now (reproducible runs)')
    .addOption(new Option('--format <format>', 'stdout format (default: table on a terminal, json otherwise)').choices(['table', 'json']))
    .option('--allow-zero-window', 'let a 0d window delete every row older than the run clock')
    .option('--native-ttl', 'ClickHouse: install a TTL clause instead of deleting (ClickHouse 19.6+)')
    .option('--sample-size <n>', 'values sampled per column when classifying for category rules', String(DEFAULT_SAMPLE_SIZE));
}

async function plan(
  dsns: string[],
  opts: CommonOptions,
): Promise<Array<{ plan: RetentionPlan; close: () => Promise<void>; db: Awaited<ReturnType<typeof openDatabase>> }>> {
  const policy = loadPolicy(opts.policy);
  const now = runClock(opts.asOf);
  const classify = { detector: getDefaultDetector(), fingerprintKey: loadFingerprintKey(), sampleSize: parsePositiveInt(opts.sampleSize, '--sample-size') };
  const out = [];
  for (const dsn of dsns) {
    const db = await openDatabase(dsn);
    try {
      out.push({
        db,
        close: () => db.close(),
        plan: await planRetention(db, policy, { now, classify, allowZeroWindow: Boolean(opts.allowZeroWindow), nativeTtl: Boolean(opts.nativeTtl) }),
      });
    } catch (err) {
      await db.close();
      throw err;
    }
  }
  return out;
}

const formatOf = (f: CommonOptions['format']) => f ?? (process.stdout.isTTY ? 'table' : 'json');

function printPlans(plans: RetentionPlan[], format: 'table' | 'json') {
  process.stdout.write(format === 'json' ? toJson({ tool: 'warden retention plan', plans: planToJson(plans) }) : formatPlanTable(plans));
}

/** Reads one answer from the terminal; end of input or Ctrl-C is a no. */
function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => {
    let answered = false;
    const finish = (yes: boolean) => {
      if (answered) return;
      answered = true;
      rl.close();
      resolve(yes);
    };
    rl.on('close', () => finish(false));
    rl.on('SIGINT', () => finish(false));
    rl.question(question, (answer) => finish(/^y(?:es)?$/i.test(answer.trim())));
  });
}

/**
 * A person at a terminal sees the plan and says yes; anything else must pass --yes. A script that forgot it
 * stops here rather than deleting on a guess, and a pipe cannot answer a question.
 */
async function confirmApply(plans: RetentionPlan[], yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    throw new UsageError('retention apply deletes rows and stdin is not a terminal to confirm on: pass --yes (or --dry-run to see the plan)');
  const s = deletionSummary(plans);
  process.stderr.write(formatPlanTable(plans));
  if (s.rows === 0 && s.ttlTables === 0) {
    process.stderr.write('Nothing is past its window; verifying only.\n');
    return;
  }
  const what = [
    s.rows ? `delete ${s.rows} row(s) past their window in ${s.tables} table(s)` : '',
    s.ttlTables ? `install a TTL on ${s.ttlTables} table(s)` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  if (!(await ask(`This will ${what}. Go ahead? [y/N] `))) throw new WardenError('not confirmed; nothing was deleted', 'NOT_CONFIRMED', 1);
}

export function registerRetention(program: Command): void {
  const retention = program.command('retention').description('Delete prompts, chats and credentials once they outlive their retention window.');
  retention.addHelpText(
    'after',
    `
Rows strictly older than the cutoff (run clock − window, rounded down to the second) are deleted;
a row exactly at the cutoff is kept. Legal holds (a table or a tenant) override every window.
Passwords come from WARDEN_DB_PASSWORD or PGPASSWORD / MYSQL_PWD / CLICKHOUSE_PASSWORD.`,
  );

  withCommon(
    retention.command('plan').description('Show per table the window, oldest row, rows past the window and how they would be deleted; changes nothing.'),
  ).action(async (dsns: string[], opts: CommonOptions) => {
    const opened = await plan(dsns, opts);
    for (const o of opened) await o.close();
    printPlans(
      opened.map((o) => o.plan),
      formatOf(opts.format),
    );
  });

  withCommon(retention.command('apply').description('Delete what the plan shows, in bounded batches, verify, and write an audit record.'))
    .option('--dry-run', 'print the plan and stop; nothing changes')
    .option('-y, --yes', 'do not ask: required when stdin is not a terminal')
    .option('--batch-size <n>', 'rows per batch (PostgreSQL, MySQL, SQLite)', String(DEFAULT_APPLY_OPTIONS.batchSize))
    .option('--pause <duration>', 'pause between batches', `${DEFAULT_APPLY_OPTIONS.pauseMs}ms`)
    .option('--max-lock <duration>', 'longest a batch may wait for or hold locks before it is retried smaller', `${DEFAULT_APPLY_OPTIONS.maxLockMs}ms`)
    .option('--mutation-timeout <duration>', 'ClickHouse: how long to wait for a DELETE mutation to finish', '10m')
    .option('--audit-log <file>', 'append audit records here (JSON Lines; default $XDG_DATA_HOME/warden/retention-audit.jsonl)')
    .addHelpText(
      'after',
      `
On a terminal, apply shows the plan (rows past the window per table) and asks before deleting; elsewhere it
refuses without --yes, so a script says explicitly that it means to delete.
Exit codes: 0 every table done and verified; 1 a table was refused, failed or left rows past its window, or the
question was answered no; 2 bad usage (no --yes off a terminal, a policy naming what the store lacks).`,
    )
    .action(async (dsns: string[], opts: ApplyFlags) => {
      const applyOptions = {
        batchSize: parsePositiveInt(opts.batchSize, '--batch-size'),
        pauseMs: parseDuration(opts.pause, '--pause'),
        maxLockMs: Math.max(1, parseDuration(opts.maxLock, '--max-lock')),
        mutationTimeoutMs: parseDuration(opts.mutationTimeout, '--mutation-timeout'),
      };
      const opened = await plan(dsns, opts);
      const format = formatOf(opts.format);
      if (opts.dryRun) {
        for (const o of opened) await o.close();
        printPlans(
          opened.map((o) => o.plan),
          format,
        );
        return;
      }
      try {
        await confirmApply(
          opened.map((o) => o.plan),
          opts.yes,
        );
      } catch (err) {
        for (const o of opened) await o.close();
        throw err;
      }
      const audit = createAuditLog(opts.auditLog);
      const results: ApplyResult[] = [];
      try {
        for (const o of opened) results.push(await applyRetention(o.db, o.plan, { ...applyOptions, audit }));
      } finally {
        for (const o of opened) await o.close();
      }
      process.stdout.write(format === 'json' ? toJson({ tool: 'warden retention apply', auditLog: audit.path, runs: results }) : formatApplyTable(results));
      if (results.some((r) => r.results.some((t) => t.status === 'refused' || t.status === 'failed' || t.status === 'incomplete'))) process.exitCode = 1;
    });
}
