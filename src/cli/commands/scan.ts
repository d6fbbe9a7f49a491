import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import {
  createTargetSet,
  formatScanReport,
  loadProbes,
  parsePorts,
  parseTargetLines,
  PROBE_LEVELS,
  SCAN_FORMATS,
  scan,
  selectProbes,
  type ProbeLevel,
  type ScanFormat,
} from '../../scan/index.js';
import { atLeast, SEVERITIES, type Severity } from '../../severity.js';
import { createProgress, useColor } from '../output.js';
import { parseDuration, parsePositiveInt } from '../parse.js';

interface ScanCliOptions {
  targetsFile?: string;
  exclude?: string[];
  ports?: string;
  concurrency: string;
  timeout: string;
  rate?: string;
  level?: ProbeLevel;
  sample?: string;
  defaultCredentials?: boolean;
  probe?: string[];
  tags?: string;
  format?: ScanFormat;
  failOn?: Severity;
  listProbes?: boolean;
}

export function registerScan(program: Command): void {
  program
    .command('scan')
    .description('Find data stores that let anyone in (ClickHouse, Redis, PostgreSQL, MySQL, ...) and measure what they expose, read-only.')
    .argument('[targets...]', 'hostnames, IPv4/IPv6 addresses, CIDR ranges, host:port (that port only)')
    .option('--targets-file <path>', 'more targets, one per line, # comments')
    .option('--exclude <targets...>', 'addresses, ranges or hosts never to contact')
    .option('--ports <list>', "ports for targets without one: 80,443,8000-8100 (default: every probe's ports)")
    .option('--concurrency <n>', 'endpoints checked at once', '64')
    .option('--timeout <duration>', 'per network step (connect, one request, one read)', '3s')
    .option('--rate <n>', 'new connections per second (default: unlimited)')
    .addOption(new Option('--level <level>', 'deepest level to go (see below)').choices([...PROBE_LEVELS]))
    .option('--sample <n>', 'read up to N rows per table through the secret detector (counts only, never values)')
    .option('--default-credentials', 'also try published default logins (guest/guest, postgres/postgres, ...)')
    .option('--probe <ids...>', 'only these probes (default: all)')
    .option('--tags <tags>', 'only probes with one of these tags, comma separated: ai,data-store (see --list-probes)')
    .option('--list-probes', 'print every probe with its ports and exactly what each level sends, then exit')
    .addOption(new Option('--format <format>', 'table (default on a terminal), json (default otherwise), sarif').choices([...SCAN_FORMATS]))
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding reaches this severity').choices([...SEVERITIES]))
    .addHelpText(
      'after',
      `
Levels (each includes the ones before; nothing ever writes, executes code, pulls a model or runs inference):
  port                 TCP connect only
  fingerprint          one harmless request that identifies the service
  auth-check           one request that needs authorisation, or a login with no credentials
  metadata (default)   names, counts and grants: databases, tables, row counts, privileges
  default-credentials  published default logins; needs --default-credentials
  sample               up to N rows per table through the detector; needs --sample N
What each probe sends at each level: warden scan --list-probes (and docs/scan.md).

Exit codes: 0 done (no finding at --fail-on); 1 a finding reached --fail-on; 2 bad usage;
3 no target could be scanned (every name unresolved or excluded). A target that was not scanned is
named on stderr and in the JSON (targets[].status) whatever the exit code.

Examples:
  warden scan 127.0.0.1
  warden scan 10.0.0.0/24 --exclude 10.0.0.1 --format json > exposures.json
  warden scan db.internal:18123 --sample 50 --fail-on high`,
    )
    .action(async (targets: string[], opts: ScanCliOptions) => {
      if (opts.listProbes) {
        for (const p of await loadProbes()) {
          const levels = PROBE_LEVELS.filter((l) => p.levels[l]).map((l) => `    ${l.padEnd(20)} ${p.levels[l]}`);
          // Such a probe tries TLS and plain HTTP together on every port, preferring TLS on these.
          const tls = p.tlsPorts?.length ? `; TLS and plain on any port, TLS preferred on ${p.tlsPorts.join(', ')}` : '';
          process.stdout.write(`${p.id} (${p.title}; ports ${p.ports.join(', ')}${tls}; tags ${p.tags.join(', ')})\n${levels.join('\n')}\n\n`);
        }
        return;
      }
      const specs = [...targets];
      if (opts.targetsFile) {
        let text: string;
        try {
          text = readFileSync(opts.targetsFile, 'utf8');
        } catch (err) {
          throw new UsageError(`cannot read --targets-file ${opts.targetsFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
        }
        specs.push(...parseTargetLines(text));
      }
      if (!specs.length) throw new UsageError('no targets: give hosts, ranges or host:port, or --targets-file');
      const exclude = opts.exclude ?? [];
      const targetSet = createTargetSet(specs, exclude); // validates before any traffic
      const sample = opts.sample !== undefined ? parsePositiveInt(opts.sample, '--sample', 10_000) : 0;
      if (opts.level === 'sample' && !sample) throw new UsageError('--level sample needs --sample N');
      if (opts.level === 'default-credentials' && !opts.defaultCredentials) throw new UsageError('--level default-credentials needs --default-credentials');
      const probes = selectProbes(await loadProbes(), {
        ...(opts.probe ? { ids: opts.probe } : {}),
        ...(opts.tags !== undefined
          ? {
              tags: opts.tags
                .split(',')
                .map((t) => t.trim())
                .filter(Boolean),
            }
          : {}),
      });
      const format: ScanFormat = opts.format ?? (process.stdout.isTTY ? 'table' : 'json');
      const progress = createProgress('scan');
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      let report;
      try {
        report = await scan({
          targets: specs,
          exclude,
          ...(opts.ports ? { ports: parsePorts(opts.ports) } : {}),
          concurrency: parsePositiveInt(opts.concurrency, '--concurrency', 4096),
          timeoutMs: parseDuration(opts.timeout, '--timeout'),
          ...(opts.rate ? { rate: parsePositiveInt(opts.rate, '--rate', 1_000_000) } : {}),
          ...(opts.level ? { maxLevel: opts.level } : {}),
          sample,
          defaultCredentials: Boolean(opts.defaultCredentials),
          probes,
          signal: controller.signal,
          onProgress: (p) => progress.update(`${p.checked}/${p.total} endpoints (of ${targetSet.size} hosts), ${p.open} open, ${p.findings} findings`),
        });
      } finally {
        progress.done();
        process.removeListener('SIGINT', onSignal);
      }
      process.stdout.write(formatScanReport(report, format, useColor(process.stdout)));
      // A target that was not scanned is not clean: say so, and fail the run when nothing was scanned at all.
      for (const t of report.targets.filter((t) => t.status !== 'scanned')) {
        process.stderr.write(`warden: target ${JSON.stringify(t.target)} not scanned (${t.status})${t.error ? `: ${t.error}` : ''}\n`);
      }
      if (!report.targets.some((t) => t.status === 'scanned')) {
        process.stderr.write('warden: no target could be scanned; nothing is known about these hosts\n');
        process.exitCode = 3;
      } else if (opts.failOn && report.findings.some((f) => atLeast(f.severity, opts.failOn!))) process.exitCode = 1;
    });
}
