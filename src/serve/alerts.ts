/**
 * Alert delivery: a generic JSON webhook signed with HMAC-SHA-256, and a Slack-compatible webhook.
 * Deliveries run in the background with retries and backoff; a slow or dead sink never holds a scan.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AlertSinkConfig } from '../config/index.js';
import { fetchWithoutRedirects, RedirectRefusedError } from '../outbound-fetch.js';
import { severityRank } from '../severity.js';
import type { Alert } from './history.js';

export interface AlertBatch {
  inventory: string;
  runId: string | null;
  /** True for `warden alert test`. */
  test: boolean;
  alerts: Alert[];
}

export interface DeliveryResult {
  sink: string;
  ok: boolean;
  attempts: number;
  /** The last HTTP status, or the network error's code. */
  status: number | string;
}

export interface AlertDispatcherOptions {
  /** First retry delay; doubles each attempt, capped at 60 s (default 1 s). */
  backoffMs?: number;
  /** One line per failed or abandoned delivery; never a URL or secret. */
  log?: (line: string) => void;
  onDelivered?: (result: DeliveryResult) => void;
}

export const SIGNATURE_HEADER = 'x-warden-signature';
export const TIMESTAMP_HEADER = 'x-warden-timestamp';

/** `sha256=` + hex HMAC of `<timestamp>.<body>`, so a captured body cannot be replayed with a new time. */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** For receivers: checks the signature in constant time and refuses timestamps outside the tolerance. */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string,
  body: string,
  signature: string,
  toleranceS = 300,
  nowS = Math.floor(Date.now() / 1000),
): boolean {
  const t = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowS - t) > toleranceS) return false;
  const expected = Buffer.from(signWebhook(secret, t, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function webhookBody(batch: AlertBatch, sentAt: number): string {
  return JSON.stringify({
    type: batch.test ? 'warden.test' : 'warden.alerts',
    sentAt: new Date(sentAt).toISOString(),
    inventory: batch.inventory,
    runId: batch.runId,
    alerts: batch.alerts,
  });
}

const HEADLINE: Record<Alert['kind'], string> = {
  new: 'New exposure',
  reopened: 'Exposure open again',
  escalated: 'Exposure escalated',
  flapping: 'Exposure flapping',
  'canary-tripped': 'Canary key used',
  'canary-missing': 'Canary gone',
};

function slackBody(batch: AlertBatch): string {
  const lines = batch.alerts.map((a) => {
    const f = a.finding;
    if (a.kind === 'canary-missing') return `• *${HEADLINE[a.kind]}* [${f.severity}] ${f.title}`;
    if (a.canary) return `• *${HEADLINE[a.kind]}* [${f.severity}] ${f.title}: from \`${f.host}\`${a.canary.route ? ` on \`${a.canary.route}\`` : ''}`;
    const was = a.previousSeverity ? ` (was ${a.previousSeverity})` : '';
    return `• *${HEADLINE[a.kind]}* [${f.severity}${was}] ${f.title}: \`${f.host}:${f.port}\` (${f.service}, auth ${f.auth})`;
  });
  const head = batch.test
    ? 'Warden test alert: this sink is reachable.'
    : `Warden: ${batch.alerts.length} alert${batch.alerts.length === 1 ? '' : 's'} for inventory *${batch.inventory}*`;
  return JSON.stringify({ text: [head, ...lines].join('\n') });
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class AlertDispatcher {
  private readonly pending = new Set<Promise<DeliveryResult>>();
  private readonly backoffMs: number;

  constructor(
    private readonly sinks: readonly AlertSinkConfig[],
    private readonly options: AlertDispatcherOptions = {},
  ) {
    this.backoffMs = options.backoffMs ?? 1000;
  }

  /** Queues the batch for every sink whose minimum severity some alert meets; returns at once. */
  dispatch(batch: AlertBatch): void {
    for (const sink of this.sinks) {
      const alerts = batch.test ? batch.alerts : batch.alerts.filter((a) => severityRank(a.finding.severity) >= severityRank(sink.minSeverity));
      if (!alerts.length) continue;
      const delivery = this.deliver(sink, { ...batch, alerts });
      this.pending.add(delivery);
      void delivery.then((result) => {
        this.pending.delete(delivery);
        this.options.onDelivered?.(result);
        if (!result.ok) this.options.log?.(`alert sink ${sink.name}: gave up after ${result.attempts} attempts (last: ${result.status})`);
      });
    }
  }

  /** Resolves when every queued delivery has succeeded or given up. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  /** Sends one batch to one sink, retrying network errors, 429 and 5xx with exponential backoff. */
  async deliver(sink: AlertSinkConfig, batch: AlertBatch): Promise<DeliveryResult> {
    let status: number | string = 'not sent';
    const deliveryId = randomUUID();
    for (let attempt = 1; attempt <= sink.retries + 1; attempt++) {
      if (attempt > 1) await wait(Math.min(this.backoffMs * 2 ** (attempt - 2), 60_000) * (0.75 + Math.random() * 0.5));
      const sentAt = Date.now();
      const body = sink.type === 'slack' ? slackBody(batch) : webhookBody(batch, sentAt);
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'warden-serve', 'x-warden-delivery': deliveryId };
      if (sink.type === 'webhook' && sink.secret) {
        const timestamp = Math.floor(sentAt / 1000);
        headers[TIMESTAMP_HEADER] = String(timestamp);
        headers[SIGNATURE_HEADER] = signWebhook(sink.secret, timestamp, body);
      }
      try {
        const res = await fetchWithoutRedirects(sink.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(sink.timeoutMs) });
        await res.arrayBuffer().catch(() => undefined);
        status = res.status;
        if (res.ok) return { sink: sink.name, ok: true, attempts: attempt, status };
        if (res.status < 500 && res.status !== 429) return { sink: sink.name, ok: false, attempts: attempt, status };
      } catch (err) {
        // A sink that redirects is misconfigured; the signed body goes nowhere else, and retrying changes nothing.
        if (err instanceof RedirectRefusedError) return { sink: sink.name, ok: false, attempts: attempt, status: err.status };
        const e = err as { name?: string; cause?: { code?: string; message?: string } };
        status = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.cause?.message ?? 'network error');
      }
    }
    return { sink: sink.name, ok: false, attempts: sink.retries + 1, status };
  }
}
