import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import { SEVERITIES, type Severity } from '../../detect/index.js';
import { createTargetSet, loadProbes, parsePorts, parseTargetLines, PROBE_LEVELS, scan, type ProbeLevel } from '../../scan/index.js';
import { atLeast, renderTable, SCAN_FORMATS, toSarif, type ScanFormat } from '../../scan/report.js';
import { createProgress, paint, useColor } from '../output.js';
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
  format?: ScanFormat;
  failOn?: Severity;
  listProbes?: boolean;
}

const SEVERITY_COLOUR = { critical: 'red', high: 'red', medium: 'yellow', low: 'cyan', info: 'gray' } as const;

export function registerScan(program: Command): void {
  program
    .command('scan')
    .description('Find data stores that let anyone in (ClickHouse, Redis, PostgreSQL, MySQL, ...) and measure what they expose, read-only.')
    .argument('[targets...]', 'hostnames, IPv4/IPv6 addresses, CIDR ranges, host:port (that port only)')
    .option('--targets-file <path>', 'more targets, one per line, # comments')
    .option('--exclude <targets...>', 'addresses, ranges or hosts never to contact')
    .option('--ports <list>', 'ports for targets without one: 80,443,8000-8100 (default: every probe\'s ports)')
    .option('--concurrency <n>', 'endpoints checked at once', '64')
    .option('--timeout <duration>', 'per network step (connect, one request, one read)', '3s')
    .option('--rate <n>', 'new connections per second (default: unlimited)')
    .addOption(new Option('--level <level>', 'deepest level to go (see below)').choices([...PROBE_LEVELS]))
    .option('--sample <n>', 'read up to N rows per table through the secret detector (counts only, never values)')
    .option('--default-credentials', 'also try published default logins (guest/guest, postgres/postgres, ...)')
    .option('--probe <ids...>', 'only these probes (default: all)')
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
          process.stdout.write(`${p.id} (${p.title}; ports ${p.ports.join(', ')}${tls})\n${levels.join('\n')}\n\n`);
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
      const probes = await loadProbes();
      if (opts.probe) {
        const unknown = opts.probe.filter((id) => !probes.some((p) => p.id === id));
        if (unknown.length) throw new UsageError(`--probe: unknown ${unknown.join(', ')} (known: ${probes.map((p) => p.id).join(', ')})`);
      }
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
          ...(opts.rate ? { rate: parsePositiveInt(opts.rate, '--rate') } : {}),
          ...(opts.level ? { maxLevel: opts.level } : {}),
          sample,
          defaultCredentials: Boolean(opts.defaultCredentials),
          probes,
          ...(opts.probe ? { probeIds: opts.probe } : {}),
          signal: controller.signal,
          onProgress: (p) => progress.update(`${p.checked}/${p.total} endpoints (of ${targetSet.size} hosts), ${p.open} open, ${p.findings} findings`),
        });
      } finally {
        progress.done();
        process.removeListener('SIGINT', onSignal);
      }
      if (format === 'json') process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else if (format === 'sarif') process.stdout.write(JSON.stringify(toSarif(report), null, 2) + '\n');
      else {
        const colour = useColor(process.stdout);
        process.stdout.write(renderTable(report, (text, severity) => paint(text, SEVERITY_COLOUR[severity], colour)));
      }
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
