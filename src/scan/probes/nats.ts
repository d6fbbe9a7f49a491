/**
 * NATS (4222). The server greets every client with `INFO {json}`, which names the version and says whether
 * auth is required. Without auth, `CONNECT` + `PING` answered by `PONG` proves the connection is accepted.
 * With JetStream on, one request to `$JS.API.INFO` (account usage: stream and consumer counts) is sent with a
 * reply subscription on a private inbox; it reads nothing and writes nothing. The probe never subscribes to
 * any data subject and never publishes to one.
 */
import { randomBytes } from 'node:crypto';
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { isRecord } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { connectTcp, TcpConnection, untilLine, type FrameCheck } from '../transports/tcp.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';
import { WARDEN_VERSION } from '../../version.js';

const MAX_INFO_BYTES = 16 * 1024;

interface ServerInfo {
  server_id?: unknown;
  version?: unknown;
  auth_required?: unknown;
  tls_required?: unknown;
  jetstream?: unknown;
}

function parseInfo(line: Buffer): ServerInfo | undefined {
  const text = line.toString('utf8');
  if (!text.startsWith('INFO ')) return undefined;
  try {
    const info = JSON.parse(text.slice(5)) as unknown;
    return isRecord(info) && typeof info.server_id === 'string' && typeof info.version === 'string' ? (info as ServerInfo) : undefined;
  } catch {
    return undefined;
  }
}

/** A protocol line, or a whole `MSG subject sid [reply] bytes` line with its payload. */
const natsFrame: FrameCheck = (b) => {
  const end = untilLine(b);
  if (end === 0 || !b.subarray(0, 4).equals(Buffer.from('MSG '))) return end;
  const size = Number(b.subarray(0, end).toString('latin1').trim().split(' ').pop());
  if (!Number.isInteger(size) || size < 0) return end;
  return b.length >= end + size + 2 ? end + size + 2 : 0;
};

async function greet(ctx: ProbeContext): Promise<{ conn: TcpConnection; info: ServerInfo } | undefined> {
  const conn = await connectTcp(ctx.host, ctx.port, { timeoutMs: ctx.timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  if (!(conn instanceof TcpConnection)) return undefined;
  const line = await conn.read(untilLine, { timeoutMs: ctx.timeoutMs, maxBytes: MAX_INFO_BYTES });
  const info = isFailure(line) ? undefined : parseInfo(line);
  if (!info) {
    conn.close();
    return undefined;
  }
  return { conn, info };
}

/** Reads protocol lines until one satisfies `want`, skipping +OK and the server's own PINGs. */
async function readUntil(conn: TcpConnection, ctx: ProbeContext, want: (line: string) => boolean): Promise<string | undefined> {
  for (let i = 0; i < 8; i++) {
    const frame = await conn.read(natsFrame, { timeoutMs: ctx.timeoutMs, maxBytes: 256 * 1024 });
    if (isFailure(frame)) return undefined;
    const text = frame.toString('utf8');
    if (text.startsWith('PING')) conn.write('PONG\r\n');
    else if (want(text) || text.startsWith('-ERR')) return text;
  }
  return undefined;
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const greeted = await greet(ctx);
  if (!greeted) return undefined;
  greeted.conn.close();
  const { info } = greeted;
  return { service: 'nats', version: String(info.version), details: { authRequired: info.auth_required === true, jetstream: info.jetstream === true } };
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const reproduce = `(printf 'CONNECT {"verbose":false}\\r\\nPING\\r\\n'; sleep 1) | nc ${ctx.host} ${ctx.port}   # INFO, then PONG when open`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('NATS', evidence);
  const greeted = await greet(ctx);
  if (!greeted) return accessUnclear('NATS', evidence, 'no INFO greeting on reconnect');
  const { conn, info } = greeted;
  try {
    if (info.auth_required === true) return authRequired('NATS', evidence, 'INFO says auth_required', reproduce);
    if (info.tls_required === true) return accessUnclear('NATS', evidence, 'INFO says tls_required; plain connections are refused');
    conn.write(
      `CONNECT ${JSON.stringify({ verbose: false, pedantic: false, tls_required: false, name: 'warden-scan', lang: 'warden', version: WARDEN_VERSION, protocol: 1 })}\r\nPING\r\n`,
    );
    const answer = await readUntil(conn, ctx, (l) => l.startsWith('PONG'));
    if (answer === undefined) return accessUnclear('NATS', evidence, 'CONNECT got no PONG');
    if (answer.startsWith('-ERR'))
      return /authori[sz]ation|auth/i.test(answer)
        ? authRequired('NATS', evidence, 'CONNECT refused: authorization violation', reproduce)
        : accessUnclear('NATS', evidence, `CONNECT refused: ${answer.trim().slice(0, 120)}`);
    // PONG is four plausible bytes. The proof is a round trip through the broker: a random payload
    // published to a private inbox comes back on our own subscription to it.
    const probeInbox = `_INBOX.warden.${randomBytes(8).toString('hex')}`;
    const nonce = randomBytes(12).toString('hex');
    conn.write(`SUB ${probeInbox} 99\r\nPUB ${probeInbox} ${nonce.length}\r\n${nonce}\r\n`);
    const echoed = await readUntil(conn, ctx, (l) => l.startsWith('MSG '));
    if (echoed === undefined || !echoed.startsWith(`MSG ${probeInbox} 99 ${nonce.length}\r\n${nonce}\r\n`)) {
      return accessUnclear('NATS', evidence, 'PONG, but a message to a private inbox did not come back: no proof of a session');
    }
    conn.write(`UNSUB 99\r\n`);
    evidence.notes.push('CONNECT without credentials accepted (a message to a private inbox came back): anyone can publish and subscribe');
    if (levelAllowed('metadata', ctx.maxLevel) && info.jetstream === true) {
      const inbox = `_INBOX.warden.${randomBytes(8).toString('hex')}`;
      conn.write(`SUB ${inbox} 1\r\nPUB $JS.API.INFO ${inbox} 0\r\n\r\n`);
      const msg = await readUntil(conn, ctx, (l) => l.startsWith('MSG '));
      const payload = msg?.startsWith('MSG ') ? msg.slice(msg.indexOf('\n') + 1) : '';
      let account: unknown;
      try {
        account = JSON.parse(payload);
      } catch {
        account = undefined;
      }
      if (isRecord(account) && typeof account.streams === 'number')
        evidence.notes.push(`JetStream enabled: ${account.streams} stream(s), ${Number(account.consumers ?? 0)} consumer(s)`);
      else evidence.notes.push('JetStream enabled (account info not readable)');
    }
  } finally {
    conn.close();
  }
  return { auth: 'none', severity: rateExposure('none', 'broker'), title: 'NATS accepts connections without authentication', evidence, reproduce };
}

export const natsProbe: Probe = {
  id: 'nats',
  service: 'nats',
  title: 'NATS',
  ports: [4222],
  tags: ['broker', 'messaging'],
  levels: {
    fingerprint: 'TCP connect and read the INFO greeting (server_id, version, auth_required, jetstream); nothing is sent.',
    'auth-check':
      'When INFO does not require auth: CONNECT with no credentials, PING (expects PONG), then SUB to a private random _INBOX subject and one PUB of a random payload to it, which must come back.',
    metadata:
      'With JetStream on: SUB to a private _INBOX and one request to $JS.API.INFO (stream and consumer counts). Never SUB to a data subject, never PUB to one.',
  },
  remediation:
    'Require authentication (accounts with users, nkeys or JWTs; at least authorization { token } or user/password), enable ' +
    'TLS, bind the client port to a private interface, and firewall 4222/6222/8222.',
  fingerprint,
  assess,
};
