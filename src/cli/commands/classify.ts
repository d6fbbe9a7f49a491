import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import {
  CATEGORIES,
  classifyStore,
  columnsWith,
  credentialFindings,
  DEFAULT_MIN_CONFIDENCE,
  DEFAULT_SAMPLE_SIZE,
  formatClassificationMarkdown,
  formatClassificationTable,
  type Category,
  type StoreClassification,
} from '../../classify/index.js';
import { openDatabase } from '../../db/index.js';
import { getDefaultDetector, loadFingerprintKey } from '../../detect/index.js';
import { detectorRules, formatSarif, toJson, WARDEN_TOOL } from '../../report/index.js';
import { createProgress } from '../output.js';
import { parsePositiveInt } from '../parse.js';

export function parseConfidence(text: string, flag: string): number {
  const n = Number(text);
  if (!(n >= 0 && n <= 1)) throw new UsageError(`${flag}: expected a number from 0 to 1, got ${JSON.stringify(text)}`);
  return n;
}

const CLASSIFY_FORMATS = ['table', 'json', 'markdown', 'sarif'] as const;
type ClassifyFormat = (typeof CLASSIFY_FORMATS)[number];

export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description('Find the columns that hold prompts, chats, completions, embeddings, tool calls, credentials and PII.')
    .argument('<dsn...>', 'postgres://user@host/db, mysql://…, mariadb://…, clickhouse://user@host:8123/db, sqlite:///file.db')
    .addOption(
      new Option('--format <format>', 'stdout format (default: table on a terminal, json otherwise); sarif lists the credentials found').choices([
        ...CLASSIFY_FORMATS,
      ]),
    )
    .option('--report <file>', 'also write a Markdown report to this file')
    .option('--sample-size <n>', 'non-null values sampled per column', String(DEFAULT_SAMPLE_SIZE))
    .option('--min-confidence <x>', 'leave out decisions below this confidence (0 to 1)', String(DEFAULT_MIN_CONFIDENCE))
    .option('--fail-on <categories...>', `exit 1 when a column holds one of these (${CATEGORIES.join(', ')})`)
    .addHelpText(
      'after',
      `
Passwords come from the environment, never the command line: WARDEN_DB_PASSWORD, or PGPASSWORD,
MYSQL_PWD, CLICKHOUSE_PASSWORD. Sampled values never leave the process: reports hold counts,
categories, reasons and keyed fingerprints of any credential (WARDEN_FINGERPRINT_KEY or a key file).
Exit codes: 0 done; 1 a --fail-on category was found; 2 bad usage or unreachable store; 3 a failed run.

Examples:
  warden classify clickhouse://default@127.0.0.1:8123/logs --fail-on credential
  PGPASSWORD=… warden classify postgres://app@db/app --format markdown > classification.md`,
    )
    .action(async (dsns: string[], opts: { format?: ClassifyFormat; report?: string; sampleSize: string; minConfidence: string; failOn?: string[] }) => {
      const failOn = (opts.failOn ?? []) as Category[];
      for (const c of failOn)
        if (!(CATEGORIES as readonly string[]).includes(c))
          throw new UsageError(`--fail-on: unknown category ${JSON.stringify(c)} (expected ${CATEGORIES.join(', ')})`);
      const sampleSize = parsePositiveInt(opts.sampleSize, '--sample-size');
      const minConfidence = parseConfidence(opts.minConfidence, '--min-confidence');
      const format = opts.format ?? (process.stdout.isTTY ? 'table' : 'json');
      const detector = getDefaultDetector();
      const common = { detector, fingerprintKey: loadFingerprintKey(), sampleSize, minConfidence };
      const reports: StoreClassification[] = [];
      for (const dsn of dsns) {
        const db = await openDatabase(dsn);
        const progress = createProgress(`classify ${db.dsn.display}`);
        try {
          reports.push(await classifyStore(db, { ...common, onProgress: (t) => progress.update(t) }));
        } finally {
          progress.done();
          await db.close();
        }
      }
      if (format === 'json') process.stdout.write(toJson({ tool: 'warden classify', stores: reports }));
      else if (format === 'sarif') {
        const rules = detectorRules(detector);
        process.stdout.write(formatSarif(credentialFindings(reports, rules), { tool: WARDEN_TOOL, rules }));
      } else process.stdout.write(format === 'markdown' ? formatClassificationMarkdown(reports) : formatClassificationTable(reports));
      if (opts.report) writeFileSync(opts.report, formatClassificationMarkdown(reports));
      const hits = reports.flatMap((r) => columnsWith(r, failOn).map((h) => ({ ...h, store: r.store })));
      if (hits.length) {
        for (const h of hits)
          process.stderr.write(
            `warden: ${h.store} ${h.table}.${h.column.column} holds ${h.column.categories
              .filter((d) => failOn.includes(d.category))
              .map((d) => d.category)
              .join(', ')}\n`,
          );
        process.exitCode = 1;
      }
    });
}
