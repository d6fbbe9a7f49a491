/**
 * Running probes against one open port: identifying it (fingerprints in parallel waves, a stalled
 * probe tried once more with a longer deadline) and assessing it, each call bounded by a budget.
 */
import { noteStall, watchStalls } from './transports/stalls.js';
import type { Assessment, Fingerprint, Probe, ProbeContext, ProbeLevel } from './types.js';

/** Probes tried at once on one open port while identifying it. */
const FINGERPRINT_WAVE = 8;
/** A probe whose peer stalled is tried once more with this many times the step timeout (and budget). */
export const STALL_RETRY_FACTOR = 2;

const slower = (ctx: ProbeContext): ProbeContext => ({ ...ctx, timeoutMs: ctx.timeoutMs * STALL_RETRY_FACTOR });
// A whole probe gets a generous multiple of the step timeout: many steps, but never unbounded.
const budgetFor = (ctx: ProbeContext) => ctx.timeoutMs * 12;

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

export interface Identified {
  probe: Probe;
  fp: Fingerprint;
  /** The context the fingerprint answered on (with `tls` set for probes with TLS ports). */
  ctx: ProbeContext;
}

/** What a probe identified at a level that does not allow assessing answers. */
export function notAssessed(probe: Probe, fp: Fingerprint, maxLevel: ProbeLevel): Assessment {
  return {
    auth: 'unknown',
    severity: 'info',
    title: `${probe.title} answering (not assessed at level ${maxLevel})`,
    evidence: { ...(fp.version ? { version: fp.version } : {}), notes: [] },
  };
}

function unknownAssessment(probe: Probe, fp: Fingerprint, why: string): Assessment {
  return {
    auth: 'unknown',
    severity: 'info',
    title: `${probe.title}: access could not be determined`,
    evidence: { ...(fp.version ? { version: fp.version } : {}), notes: [why] },
  };
}

/** Probes run for one scan: its abort signal, its connection rate and its count of probe calls. */
export class ProbeRunner {
  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly waitForRate: () => Promise<void>,
    private readonly stats: { probesRun: number },
  ) {}

  /** The probe's assessment; when a step stalled, once more with a longer deadline, whose answer stands. */
  async assess(probe: Probe, fp: Fingerprint, ctx: ProbeContext): Promise<Assessment> {
    const run = (c: ProbeContext) =>
      attempt<Assessment>(
        () => probe.assess(c, fp),
        budgetFor(c),
        (why) => unknownAssessment(probe, fp, why),
      );
    const first = await run(ctx);
    if (!first.stalled || this.signal?.aborted) return first.value;
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
  async identify(ctx: ProbeContext, candidates: Probe[]): Promise<{ hit?: Identified; stalled: string[] }> {
    const stalledOnce: Probe[] = [];
    // One wave for all of them: they already cost a timeout each, and a silent port should not cost more waves.
    const retry = async (again: Probe[]): Promise<{ hit?: Identified; stalled: string[] }> => {
      const answers = await Promise.all(again.map((probe) => this.fingerprintWith(probe, slower(ctx))));
      const hit = answers.find((answer) => answer.hit)?.hit;
      return hit ? { hit, stalled: [] } : { stalled: again.filter((_, i) => answers[i]!.stalled).map((p) => p.id) };
    };
    for (let at = 0; at < candidates.length; at += FINGERPRINT_WAVE) {
      if (this.signal?.aborted) break;
      const wave = candidates.slice(at, at + FINGERPRINT_WAVE);
      const answers = await Promise.all(wave.map((probe) => this.fingerprintWith(probe, ctx)));
      for (const [i, answer] of answers.entries()) {
        if (answer.hit) {
          const named = stalledOnce.filter((p) => p.ports.includes(ctx.port));
          return named.length ? { hit: (await retry(named)).hit ?? answer.hit, stalled: [] } : { hit: answer.hit, stalled: [] };
        }
        if (answer.stalled) stalledOnce.push(wave[i]!);
      }
    }
    return stalledOnce.length && !this.signal?.aborted ? retry(stalledOnce) : { stalled: [] };
  }

  /**
   * One probe's fingerprint. A probe with `tlsPorts` is tried over TLS and plain HTTP at once (a port speaks
   * one of them, and the other attempt fails fast); TLS wins on its TLS ports, plain elsewhere.
   */
  private async fingerprintWith(probe: Probe, ctx: ProbeContext): Promise<{ hit?: Identified; stalled: boolean }> {
    const once = async (attemptCtx: ProbeContext): Promise<{ hit?: Identified; stalled: boolean }> => {
      await this.waitForRate();
      this.stats.probesRun++;
      const { value: fp, stalled } = await attempt<Fingerprint | undefined>(
        () => probe.fingerprint(attemptCtx),
        budgetFor(attemptCtx),
        () => undefined,
      );
      return fp ? { hit: { probe, fp: attemptCtx.tls ? { ...fp, details: { ...fp.details, tls: true } } : fp, ctx: attemptCtx }, stalled } : { stalled };
    };
    if (!probe.tlsPorts) return once(ctx);
    const tlsFirst = probe.tlsPorts.includes(ctx.port);
    const [preferred, other] = await Promise.all([once({ ...ctx, tls: tlsFirst }), once({ ...ctx, tls: !tlsFirst })]);
    return preferred.hit ? preferred : other.hit ? other : { stalled: preferred.stalled || other.stalled };
  }
}
