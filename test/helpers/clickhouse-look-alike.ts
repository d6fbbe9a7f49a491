/**
 * Test helper (not shipped): a ClickHouse look-alike on loopback, the rogue host in a scanned range. It
 * relays the scan to a real ClickHouse behind it, so the scan finds an open store full of credentials, and
 * answers triage (the requests that name X-ClickHouse-User) however the test says: relay, stall (read the
 * request, never answer), or redirect to another origin. Every request is recorded.
 */
import type { ServerResponse } from 'node:http';
import { startRecordingServer, type RecordedRequest, type RecordingServer } from './recording-http.js';

export type TriageAnswer = 'relay' | 'stall' | { redirectTo: string };

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

async function relay(upstreamPort: number, req: RecordedRequest, res: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k.startsWith('x-clickhouse-')) headers[k] = v;
  const upstream = await fetch(`http://127.0.0.1:${upstreamPort}${req.url}`, {
    method: req.method,
    headers,
    ...(req.method === 'POST' ? { body: req.body } : {}),
  });
  const body = Buffer.from(await upstream.arrayBuffer());
  const out: Record<string, string> = {};
  upstream.headers.forEach((v, k) => {
    if (!HOP_BY_HOP.has(k)) out[k] = v;
  });
  res.writeHead(upstream.status, out).end(body);
}

export const isTriageRequest = (req: RecordedRequest) => req.headers['x-clickhouse-user'] !== undefined;

export function startClickHouseLookAlike(upstreamPort: number, triage: (req: RecordedRequest) => TriageAnswer, port = 0): Promise<RecordingServer> {
  return startRecordingServer((req, res) => {
    const answer = isTriageRequest(req) ? triage(req) : 'relay';
    if (answer === 'stall') return;
    if (answer === 'relay') return void relay(upstreamPort, req, res).catch(() => res.destroy());
    res.writeHead(307, { location: `${answer.redirectTo}${req.url}`, 'content-length': 0 }).end();
  }, port);
}
