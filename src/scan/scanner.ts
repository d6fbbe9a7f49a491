/**
 * The scan loop: stream (host, port) pairs from the targets, connect with bounded concurrency and an
 * optional rate, identify each open port by what it answers, and assess it with the matching probe.
 */
import { setMaxListeners } from 'node:events';
import { getDefaultDetector, type Detector } from '../detect/index.js';
import { worstFirst } from '../severity.js';
import { WARDEN_VERSION } from '../version.js';
import { resolveHost } from './transports/dns.js';
import { isFailure } from './transports/result.js';
import { connectTcp, TcpConnection } from './transports/tcp.js';
import { readTlsPeer } from './transports/tls.js';
import { notAssessed, ProbeRunner, STALL_RETRY_FACTOR } from './probe-runner.js';
import { defaultPorts, loadProbes, probesForPort } from './registry.js';
import { createTargetSet, type TargetSpec } from './targets.js';
import { levelAllowed, type Finding, type Probe, type ProbeContext, type ProbeLevel } from './types.js';

export const SCAN_SCHEMA_VERSION = 2;
export interface ScanOptions {
  /** Hostnames, addresses, CIDR ranges, host:port. */
  targets: string[];
  exclude?: string[];
  /** Ports for targets without an explicit port (default: every probe's ports). */
  ports?: number[];
  /** Simultaneous host:port checks (default 64). */
  concurrency?: number;
  /** Per network step (default 3000 ms). */
  timeoutMs?: number;
  /** New connections per second across the scan (default: unlimited). */
  rate?: number;
  /** Deepest level to go (default metadata, or sample when `sample` > 0). */
  maxLevel?: ProbeLevel;
  /** Rows per table to pass through the detector (default 0). */
  sample?: number;
  defaultCredentials?: boolean;
  /** Only these probe ids (default all). */
  probeIds?: string[];
  /** Probes to use instead of the shipped folder (tests, embedders). */
  probes?: Probe[];
  detector?: Detector;
  signal?: AbortSignal;
  onProgress?: (progress: ScanProgress) => void;
}

export interface ScanProgress {
  checked: number;
  total: bigint;
  open: number;
  findings: number;
}

/**
 * What became of one target as given: `scanned` (its ports were tried), `unresolved` (the name has no
 * address), `excluded` (`--exclude` covers every address, the name's resolved ones included), or
 * `cancelled` (the scan was stopped before reaching it). Only `scanned` targets say anything about exposure.
 */
export type TargetStatus = 'scanned' | 'unresolved' | 'excluded' | 'cancelled';

export interface TargetReport {
  target: string;
  status: TargetStatus;
  error?: string;
}

export interface ScanReport {
  schemaVersion: number;
  tool: { name: 'warden'; version: string };
  startedAt: string;
  finishedAt: string;
  targets: TargetReport[];
  /** Every port a connection was attempted on. */
  ports: number[];
  stats: { endpoints: number; open: number; identified: number; probesRun: number };
  /** Every open port, with the service identified on it when one was. */
  openPorts: Array<{ host: string; port: number; service?: string }>;
  findings: Finding[];
}

/** Creates a limiter that spaces calls `1000 / rate` ms apart (shared by all workers). */
function createRateLimiter(rate: number | undefined) {
  if (!rate || rate <= 0) return async () => {};
  const gap = 1000 / rate;
  let next = Date.now();
  return async () => {
    const now = Date.now();
    const at = Math.max(now, next);
    next = at + gap;
    if (at > now) await new Promise((r) => setTimeout(r, at - now));
  };
}

export async function scan(options: ScanOptions): Promise<ScanReport> {
  const startedAt = new Date().toISOString();
  const targetSet = createTargetSet(options.targets, options.exclude ?? []);
  const allProbes = options.probes ?? (await loadProbes());
  const probes = options.probeIds ? allProbes.filter((p) => options.probeIds!.includes(p.id)) : allProbes;
  const ports = options.ports ?? defaultPorts(probes);
  const timeoutMs = options.timeoutMs ?? 3000;
  const sample = options.sample ?? 0;
  const maxLevel: ProbeLevel = options.maxLevel ?? (sample > 0 ? 'sample' : options.defaultCredentials ? 'default-credentials' : 'metadata');
  const detector = options.detector ?? getDefaultDetector();
  const concurrency = Math.max(1, options.concurrency ?? 64);
  const waitForRate = createRateLimiter(options.rate);
  const portsOf = (spec: TargetSpec) => (spec.port !== undefined ? [spec.port] : ports);
  // Endpoints that will be tried: an exact host:port is one, exclusions are left out.
  const total = targetSet.specs.reduce((acc, spec) => acc + spec.size * BigInt(portsOf(spec).length), 0n);
  const stats = { endpoints: 0, open: 0, identified: 0, probesRun: 0 };
  // Every in-flight socket listens for the scan's abort: allow one listener per worker and step.
  if (options.signal) setMaxListeners(concurrency * 4 + 16, options.signal);
  const findings: Finding[] = [];
  const openPorts: ScanReport['openPorts'] = [];
  const targets: TargetReport[] = targetSet.specs.map((spec) => ({ target: spec.spec, status: spec.size === 0n ? 'excluded' : 'cancelled' }));
  const triedPorts = new Set<number>();
  let checked = 0;
  const report = () => options.onProgress?.({ checked, total, open: stats.open, findings: findings.length });

  /** Endpoints in target order; a name is resolved once, before any of its ports, and checked against the exclusions. */
  async function* endpoints(): AsyncGenerator<{ host: string; port: number }> {
    for (const [i, spec] of targetSet.specs.entries()) {
      const status = targets[i]!;
      if (spec.size === 0n) continue;
      if (options.signal?.aborted) return;
      if (spec.hostname) {
        const host = [...spec.targets()][0]!.host;
        const addresses = await resolveHost(host, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
        if (isFailure(addresses) && addresses.reason === 'aborted') return;
        const excluded = isFailure(addresses) ? undefined : addresses.find(targetSet.excludesAddress);
        if (isFailure(addresses) || excluded) {
          Object.assign(
            status,
            isFailure(addresses)
              ? { status: 'unresolved', error: addresses.message }
              : { status: 'excluded', error: `resolves to excluded address ${excluded}` },
          );
          checked += portsOf(spec).length;
          report();
          continue;
        }
      }
      status.status = 'scanned';
      for (const t of spec.targets()) {
        for (const port of portsOf(spec)) {
          triedPorts.add(port);
          yield { host: t.host, port };
        }
      }
    }
  }
  const queue = endpoints();

  const context = (host: string, port: number): ProbeContext => ({
    host,
    port,
    timeoutMs,
    maxLevel,
    sample: levelAllowed('sample', maxLevel) ? sample : 0,
    defaultCredentials: Boolean(options.defaultCredentials) && levelAllowed('default-credentials', maxLevel),
    detector,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const runner = new ProbeRunner(options.signal, waitForRate, stats);

  async function check(host: string, port: number): Promise<void> {
    await waitForRate();
    const conn = await connectTcp(host, port, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
    if (!(conn instanceof TcpConnection)) return;
    conn.close();
    stats.open++;
    const open: ScanReport['openPorts'][number] = { host, port };
    openPorts.push(open);
    if (!levelAllowed('fingerprint', maxLevel)) return void findings.push(unidentifiedFinding(host, port, `not fingerprinted: level ${maxLevel}`));
    const { hit, stalled } = await runner.identify(context(host, port), probesForPort(probes, port));
    if (!hit) {
      const why = stalled.length
        ? `connected, but no complete answer within ${timeoutMs * STALL_RETRY_FACTOR} ms (retried) to: ${stalled.join(', ')}`
        : options.signal?.aborted
          ? 'scan cancelled before the service was identified'
          : 'no probe recognised the answer';
      return void findings.push(unidentifiedFinding(host, port, why));
    }
    const { probe, fp, ctx: probeCtx } = hit;
    stats.identified++;
    open.service = probe.service;
    const [assessment, tlsPeer] = await Promise.all([
      levelAllowed('auth-check', maxLevel) ? runner.assess(probe, fp, probeCtx) : Promise.resolve(notAssessed(probe, fp, maxLevel)),
      // Over TLS the certificate's subject and issuer go into the evidence: one more handshake, nothing sent.
      probeCtx.tls ? readTlsPeer(host, port, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) }) : undefined,
    ]);
    if (tlsPeer) {
      if (isFailure(tlsPeer)) assessment.evidence.notes.push(`answered over TLS; certificate not read: ${tlsPeer.reason}`);
      else assessment.evidence.tls = tlsPeer;
    }
    findings.push({
      id: `${probe.service}:${host}:${port}`,
      host,
      port,
      service: probe.service,
      probe: probe.id,
      title: assessment.title,
      auth: assessment.auth,
      severity: assessment.severity,
      evidence: assessment.evidence,
      ...(assessment.reproduce ? { reproduce: assessment.reproduce } : {}),
      remediation: probe.remediation,
    });
  }

  async function worker(): Promise<void> {
    for (;;) {
      if (options.signal?.aborted) return;
      const next = await queue.next();
      if (next.done) return;
      stats.endpoints++;
      await check(next.value.host, next.value.port);
      checked++;
      report();
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));

  findings.sort((a, b) => worstFirst(a.severity, b.severity) || a.host.localeCompare(b.host) || a.port - b.port);
  return {
    schemaVersion: SCAN_SCHEMA_VERSION,
    tool: { name: 'warden', version: WARDEN_VERSION },
    startedAt,
    finishedAt: new Date().toISOString(),
    targets,
    ports: [...triedPorts].sort((a, b) => a - b),
    stats,
    openPorts: openPorts.sort((a, b) => a.host.localeCompare(b.host) || a.port - b.port),
    findings,
  };
}

/** An open port no probe identified (or that was not fingerprinted at `--level port`): unknown, never clean. */
function unidentifiedFinding(host: string, port: number, why: string): Finding {
  return {
    id: `unknown:${host}:${port}`,
    host,
    port,
    service: 'unknown',
    probe: 'open-port',
    title: 'Open port: service not identified',
    auth: 'unknown',
    severity: 'info',
    evidence: { notes: [why] },
    remediation: 'Find out what listens on this port (ss -ltnp on the host); close it or firewall it if nothing should answer here.',
  };
}
