/**
 * The scan loop: stream (host, port) pairs from the targets, connect with bounded concurrency and an
 * optional rate, identify each open port by what it answers, and assess it with the matching probe.
 */
import { setMaxListeners } from 'node:events';
import { getDefaultDetector, type Detector } from '../detect/index.js';
import { isFailure } from './transports/result.js';
import { connectTcp, TcpConnection } from './transports/tcp.js';
import { readTlsPeer } from './transports/tls.js';
import { defaultPorts, loadProbes, probesForPort } from './registry.js';
import { createTargetSet, type Target } from './targets.js';
import { levelAllowed, type Assessment, type Finding, type Fingerprint, type Probe, type ProbeContext, type ProbeLevel } from './types.js';

export const SCAN_SCHEMA_VERSION = 1;
const TOOL_VERSION = '0.1.0';
/** Probes tried at once on one open port while identifying it. */
const FINGERPRINT_WAVE = 8;

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

export interface ScanReport {
  schemaVersion: number;
  tool: { name: 'warden'; version: string };
  startedAt: string;
  finishedAt: string;
  targets: string[];
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

/** Bounds a probe call: a probe that hangs or throws past its budget yields `fallback`, never a stuck scan. */
async function bounded<T>(work: () => Promise<T>, budgetMs: number, fallback: (why: string) => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work().catch((err: unknown) => fallback(`probe error: ${(err as Error)?.message ?? String(err)}`)),
      new Promise<T>((resolve) => {
        timer = setTimeout(() => resolve(fallback(`probe exceeded ${budgetMs} ms`)), budgetMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
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
  const total = targetSet.size * BigInt(ports.length);
  const stats = { endpoints: 0, open: 0, identified: 0, probesRun: 0 };
  // Every in-flight socket listens for the scan's abort: allow one listener per worker and step.
  if (options.signal) setMaxListeners(concurrency * 4 + 16, options.signal);
  const findings: Finding[] = [];
  const openPorts: ScanReport['openPorts'] = [];

  function* endpoints(): Generator<{ host: string; port: number }> {
    for (const t of targetSet as Iterable<Target>) {
      if (t.port !== undefined) yield { host: t.host, port: t.port };
      else for (const port of ports) yield { host: t.host, port };
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

  async function check(host: string, port: number): Promise<void> {
    await waitForRate();
    const conn = await connectTcp(host, port, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
    if (!(conn instanceof TcpConnection)) return;
    conn.close();
    stats.open++;
    const open: ScanReport['openPorts'][number] = { host, port };
    openPorts.push(open);
    if (!levelAllowed('fingerprint', maxLevel)) return;
    const ctx = context(host, port);
    // A whole probe gets a generous multiple of the step timeout: many steps, but never unbounded.
    const budget = timeoutMs * 12;
    const identified = await identify(ctx, probesForPort(probes, port), budget);
    if (identified) {
      const { probe, fp, ctx: probeCtx } = identified;
      stats.identified++;
      open.service = probe.service;
      const [assessment, tlsPeer] = await Promise.all([
        levelAllowed('auth-check', maxLevel)
          ? bounded<Assessment>(() => probe.assess(probeCtx, fp), budget, (why) => unknownAssessment(probe, fp, why))
          : Promise.resolve(notAssessed(probe, fp, maxLevel)),
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
  }

  /**
   * The first probe, in `candidates` order, that recognises the peer. Probes run in small parallel waves:
   * a silent or garbage-speaking port costs a few timeouts, not one per shipped probe.
   */
  async function identify(ctx: ProbeContext, candidates: Probe[], budget: number): Promise<Identified | undefined> {
    for (let at = 0; at < candidates.length; at += FINGERPRINT_WAVE) {
      if (options.signal?.aborted) return undefined;
      const wave = candidates.slice(at, at + FINGERPRINT_WAVE);
      const answers = await Promise.all(wave.map((probe) => fingerprintWith(probe, ctx, budget)));
      const hit = answers.find((answer) => answer !== undefined);
      if (hit) return hit;
    }
    return undefined;
  }

  /**
   * One probe's fingerprint. A probe with `tlsPorts` is tried over TLS and plain HTTP at once (a port speaks
   * one of them, and the other attempt fails fast); TLS wins on its TLS ports, plain elsewhere.
   */
  async function fingerprintWith(probe: Probe, ctx: ProbeContext, budget: number): Promise<Identified | undefined> {
    const attempt = async (attemptCtx: ProbeContext): Promise<Identified | undefined> => {
      await waitForRate();
      stats.probesRun++;
      const fp = await bounded<Fingerprint | undefined>(() => probe.fingerprint(attemptCtx), budget, () => undefined);
      return fp && { probe, fp: attemptCtx.tls ? { ...fp, details: { ...fp.details, tls: true } } : fp, ctx: attemptCtx };
    };
    if (!probe.tlsPorts) return attempt(ctx);
    const tlsFirst = probe.tlsPorts.includes(ctx.port);
    const preferred = attempt({ ...ctx, tls: tlsFirst });
    const other = attempt({ ...ctx, tls: !tlsFirst });
    return (await preferred) ?? (await other);
  }

  let checked = 0;
  const report = () => options.onProgress?.({ checked, total, open: stats.open, findings: findings.length });
  async function worker(): Promise<void> {
    for (;;) {
      if (options.signal?.aborted) return;
      const next = queue.next();
      if (next.done) return;
      stats.endpoints++;
      await check(next.value.host, next.value.port);
      checked++;
      report();
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));

  const order = ['critical', 'high', 'medium', 'low', 'info'];
  findings.sort((a, b) => order.indexOf(a.severity) - order.indexOf(b.severity) || a.host.localeCompare(b.host) || a.port - b.port);
  return {
    schemaVersion: SCAN_SCHEMA_VERSION,
    tool: { name: 'warden', version: TOOL_VERSION },
    startedAt,
    finishedAt: new Date().toISOString(),
    targets: options.targets,
    ports,
    stats,
    openPorts: openPorts.sort((a, b) => a.host.localeCompare(b.host) || a.port - b.port),
    findings,
  };
}

interface Identified {
  probe: Probe;
  fp: Fingerprint;
  /** The context the fingerprint answered on (with `tls` set for probes with TLS ports). */
  ctx: ProbeContext;
}

function notAssessed(probe: Probe, fp: Fingerprint, maxLevel: ProbeLevel): Assessment {
  return { auth: 'unknown', severity: 'info', title: `${probe.title} answering (not assessed at level ${maxLevel})`, evidence: { ...(fp.version ? { version: fp.version } : {}), notes: [] } };
}

function unknownAssessment(probe: Probe, fp: Fingerprint, why: string): Assessment {
  return {
    auth: 'unknown',
    severity: 'info',
    title: `${probe.title}: access could not be determined`,
    evidence: { ...(fp.version ? { version: fp.version } : {}), notes: [why] },
  };
}
