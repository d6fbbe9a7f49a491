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
import { noteStall, watchStalls } from './transports/stalls.js';
import { connectTcp, TcpConnection } from './transports/tcp.js';
import { readTlsPeer } from './transports/tls.js';
import { defaultPorts, loadProbes, probesForPort } from './registry.js';
import { createTargetSet, type TargetSpec } from './targets.js';
import { levelAllowed, type Assessment, type Finding, type Fingerprint, type Probe, type ProbeContext, type ProbeLevel } from './types.js';

export const SCAN_SCHEMA_VERSION = 2;
/** Probes tried at once on one open port while identifying it. */
const FINGERPRINT_WAVE = 8;
/** A probe whose peer stalled is tried once more with this many times the step timeout (and budget). */
const STALL_RETRY_FACTOR = 2;
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

/**
 * One bounded probe call: a probe that hangs or throws past its budget yields `fallback`, never a stuck
 * scan. Says whether the peer stalled (a step timed out after connecting, or the whole budget ran out).
 */
async function attempt<T>(work: () => Promise<T>, budgetMs: number, fallback: (why: string) => T): Promise<{ value: T; stalled: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await watchStalls(() =>
      Promise.race([
        work().catch((err: unknown) => fallback(`probe error: ${(err as Error)?.message ?? String(err)}`)),
        new Promise<T>((resolve) => {
          timer = setTimeout(() => {
            noteStall();
            resolve(fallback(`probe exceeded ${budgetMs} ms`));
          }, budgetMs);
        }),
      ]),
    );
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
          Object.assign(status, isFailure(addresses) ? { status: 'unresolved', error: addresses.message } : { status: 'excluded', error: `resolves to excluded address ${excluded}` });
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
  const slower = (ctx: ProbeContext): ProbeContext => ({ ...ctx, timeoutMs: ctx.timeoutMs * STALL_RETRY_FACTOR });
  // A whole probe gets a generous multiple of the step timeout: many steps, but never unbounded.
  const budgetFor = (ctx: ProbeContext) => ctx.timeoutMs * 12;

  async function check(host: string, port: number): Promise<void> {
    await waitForRate();
    const conn = await connectTcp(host, port, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
    if (!(conn instanceof TcpConnection)) return;
    conn.close();
    stats.open++;
    const open: ScanReport['openPorts'][number] = { host, port };
    openPorts.push(open);
    if (!levelAllowed('fingerprint', maxLevel)) return void findings.push(unidentifiedFinding(host, port, `not fingerprinted: level ${maxLevel}`));
    const { hit, stalled } = await identify(context(host, port), probesForPort(probes, port));
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
      levelAllowed('auth-check', maxLevel) ? assess(probe, fp, probeCtx) : Promise.resolve(notAssessed(probe, fp, maxLevel)),
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

  /** The probe's assessment; when a step stalled, once more with a longer deadline, whose answer stands. */
  async function assess(probe: Probe, fp: Fingerprint, ctx: ProbeContext): Promise<Assessment> {
    const run = (c: ProbeContext) => attempt<Assessment>(() => probe.assess(c, fp), budgetFor(c), (why) => unknownAssessment(probe, fp, why));
    const first = await run(ctx);
    if (!first.stalled || options.signal?.aborted) return first.value;
    const again = await run(slower(ctx));
    if (again.stalled) again.value.evidence.notes.push(`a step timed out again when retried with a ${slower(ctx).timeoutMs} ms deadline`);
    return again.value;
  }

  /**
   * The first probe, in `candidates` order, that recognises the peer. Probes run in small parallel waves:
   * a silent or garbage-speaking port costs a few timeouts, not one per shipped probe. Probes whose peer
   * stalled get one more try with a longer deadline, so a loaded host or scanner does not change what a
   * port is identified as: before another probe's answer is taken when they name this port (they come
   * first, and are the likely service), else when no probe recognised the peer. `stalled` names the probes
   * that stalled twice.
   */
  async function identify(ctx: ProbeContext, candidates: Probe[]): Promise<{ hit?: Identified; stalled: string[] }> {
    const stalledOnce: Probe[] = [];
    // One wave for all of them: they already cost a timeout each, and a silent port should not cost more waves.
    const retry = async (again: Probe[]): Promise<{ hit?: Identified; stalled: string[] }> => {
      const answers = await Promise.all(again.map((probe) => fingerprintWith(probe, slower(ctx))));
      const hit = answers.find((answer) => answer.hit)?.hit;
      return hit ? { hit, stalled: [] } : { stalled: again.filter((_, i) => answers[i]!.stalled).map((p) => p.id) };
    };
    for (let at = 0; at < candidates.length; at += FINGERPRINT_WAVE) {
      if (options.signal?.aborted) break;
      const wave = candidates.slice(at, at + FINGERPRINT_WAVE);
      const answers = await Promise.all(wave.map((probe) => fingerprintWith(probe, ctx)));
      for (const [i, answer] of answers.entries()) {
        if (answer.hit) {
          const named = stalledOnce.filter((p) => p.ports.includes(ctx.port));
          return named.length ? { hit: (await retry(named)).hit ?? answer.hit, stalled: [] } : { hit: answer.hit, stalled: [] };
        }
        if (answer.stalled) stalledOnce.push(wave[i]!);
      }
    }
    return stalledOnce.length && !options.signal?.aborted ? retry(stalledOnce) : { stalled: [] };
  }

  /**
   * One probe's fingerprint. A probe with `tlsPorts` is tried over TLS and plain HTTP at once (a port speaks
   * one of them, and the other attempt fails fast); TLS wins on its TLS ports, plain elsewhere.
   */
  async function fingerprintWith(probe: Probe, ctx: ProbeContext): Promise<{ hit?: Identified; stalled: boolean }> {
    const once = async (attemptCtx: ProbeContext): Promise<{ hit?: Identified; stalled: boolean }> => {
      await waitForRate();
      stats.probesRun++;
      const { value: fp, stalled } = await attempt<Fingerprint | undefined>(() => probe.fingerprint(attemptCtx), budgetFor(attemptCtx), () => undefined);
      return fp ? { hit: { probe, fp: attemptCtx.tls ? { ...fp, details: { ...fp.details, tls: true } } : fp, ctx: attemptCtx }, stalled } : { stalled };
    };
    if (!probe.tlsPorts) return once(ctx);
    const tlsFirst = probe.tlsPorts.includes(ctx.port);
    const [preferred, other] = await Promise.all([once({ ...ctx, tls: tlsFirst }), once({ ...ctx, tls: !tlsFirst })]);
    return preferred.hit ? preferred : other.hit ? other : { stalled: preferred.stalled || other.stalled };
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
