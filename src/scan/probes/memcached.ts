/**
 * Memcached over its ASCII protocol on TCP (never UDP: memcached/UDP is an amplification vector).
 * Memcached has no users unless built with SASL (binary protocol only) or started with an auth file
 * (`-Y`), so any peer that answers `stats` is reachable without authentication.
 */
import { inspectRows, rateExposure } from '../evidence.js';
import { connectTcp, TcpConnection, tcpExchange, untilLine, type FrameCheck } from '../transports/tcp.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const REMEDIATION =
  'Bind memcached to a private interface (-l 127.0.0.1 or an internal address), disable UDP (-U 0), require ' +
  'authentication (-S for SASL or -Y with an auth file), and firewall port 11211 from untrusted networks.';

/** Longest key list read from `lru_crawler metadump` when sampling; the dump is cut off past it. */
const MAX_SAMPLE_KEYS = 100;

/** A reply ends at END, or at an error line, which memcached sends instead of a result. */
const untilEndOrError: FrameCheck = (b) => {
  const text = b.toString('latin1');
  const end = /(^|\r\n)(END|ERROR|CLIENT_ERROR [^\r\n]*|SERVER_ERROR [^\r\n]*)\r\n/.exec(text);
  return end ? end.index + end[0].length : 0;
};

function parseStats(text: string): Map<string, string> {
  const stats = new Map<string, string>();
  for (const m of text.matchAll(/^STAT (\S+) ([^\r\n]*)\r$/gm)) stats.set(m[1]!, m[2]!);
  return stats;
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const reply = await tcpExchange(ctx.host, ctx.port, 'version\r\n', untilLine, { timeoutMs: ctx.timeoutMs, signal: ctx.signal, maxBytes: 512 });
  if (isFailure(reply)) return undefined;
  const line = reply.toString('latin1').trimEnd();
  const version = /^VERSION (\d+\.\d+[\w.+-]*)$/.exec(line);
  if (version) return { service: 'memcached', version: version[1] };
  // An auth-file (-Y) server refuses every command with this exact line.
  if (line === 'CLIENT_ERROR unauthenticated') return { service: 'memcached', details: { authRequired: true } };
  return undefined;
}

/** Reads up to `limit` key names from the LRU crawler, then the values for them, through one connection each. */
async function sampleValues(ctx: ProbeContext, limit: number): Promise<string[] | undefined> {
  const opts = { timeoutMs: ctx.timeoutMs, signal: ctx.signal };
  const conn = await connectTcp(ctx.host, ctx.port, opts);
  if (!(conn instanceof TcpConnection)) return undefined;
  const keys: string[] = [];
  try {
    // Dump lines end in a bare LF; the dump is cut off by closing the connection once enough keys arrived.
    conn.write('lru_crawler metadump all\r\n');
    while (keys.length < limit) {
      const line = await conn.read(untilLine, { timeoutMs: ctx.timeoutMs, maxBytes: 4096 });
      if (isFailure(line)) break;
      const text = line.toString('latin1').trimEnd();
      const key = /^key=(\S+)/.exec(text);
      if (!key) break;
      keys.push(decodeURIComponent(key[1]!));
    }
  } finally {
    conn.close();
  }
  if (keys.length === 0) return [];
  const reply = await tcpExchange(ctx.host, ctx.port, `get ${keys.join(' ')}\r\n`, untilEndOrError, { ...opts, maxBytes: 1024 * 1024 });
  if (isFailure(reply)) return undefined;
  const values: string[] = [];
  // latin1 keeps one character per byte, so header offsets are byte offsets into the reply.
  const text = reply.toString('latin1');
  const header = /VALUE \S+ \d+ (\d+)\r\n/g;
  for (let m = header.exec(text); m; m = header.exec(text)) {
    const start = m.index + m[0].length;
    const end = start + Number(m[1]);
    values.push(reply.subarray(start, end).toString('utf8'));
    header.lastIndex = end;
  }
  return values;
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const reproduce = `printf 'stats\\r\\nquit\\r\\n' | nc ${ctx.host} ${ctx.port}`;
  const evidence: Evidence = { version: fp.version, notes: [] };
  if (!levelAllowed('auth-check', ctx.maxLevel)) {
    return { auth: 'unknown', severity: 'info', title: 'Memcached found (access not checked)', evidence };
  }
  const reply = await tcpExchange(ctx.host, ctx.port, 'stats\r\n', untilEndOrError, { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  if (isFailure(reply)) {
    evidence.notes.push(`stats gave no answer: ${reply.reason}`);
    return { auth: 'unknown', severity: 'info', title: 'Memcached found, access could not be checked', evidence };
  }
  const text = reply.toString('latin1');
  if (/^CLIENT_ERROR unauthenticated/.test(text)) {
    evidence.notes.push('stats refused with CLIENT_ERROR unauthenticated');
    return { auth: 'required', severity: 'info', title: 'Memcached requires authentication', evidence, reproduce };
  }
  const stats = parseStats(text);
  // One STAT line is easy to fake: a real listing carries all of these, each an integer.
  if (!['pid', 'uptime', 'curr_items', 'curr_connections'].every((name) => /^\d+$/.test(stats.get(name) ?? ''))) {
    evidence.notes.push('stats answer was not a STAT listing (pid, uptime, curr_items and curr_connections as integers)');
    return { auth: 'unknown', severity: 'info', title: 'Memcached found, stats answer not understood', evidence };
  }
  evidence.version = stats.get('version') ?? fp.version;
  evidence.notes.push('stats answered without authentication');
  const items = Number(stats.get('curr_items') ?? 0);
  if (levelAllowed('metadata', ctx.maxLevel)) {
    evidence.notes.push(`curr_items=${items}`, `bytes=${stats.get('bytes') ?? '?'}`);
    evidence.databases = [{ name: 'memcached', tables: [{ name: 'items', rows: items }] }];
  }
  if (levelAllowed('sample', ctx.maxLevel) && ctx.sample > 0 && items > 0) {
    const values = await sampleValues(ctx, Math.min(ctx.sample, MAX_SAMPLE_KEYS));
    if (values === undefined) evidence.notes.push('sampling failed: the server stopped answering');
    else {
      const inspected = inspectRows(
        values.map((value) => ({ value })),
        ctx.detector,
      );
      evidence.databases = [{ name: 'memcached', tables: [{ name: 'items', rows: items, ...inspected }] }];
    }
  }
  const severity = rateExposure('none', 'data-store', evidence);
  const critical = severity === 'critical';
  return {
    auth: 'none',
    severity,
    title: critical ? 'Memcached open without authentication, cached values hold credentials or chat content' : 'Memcached open without authentication',
    evidence,
    reproduce,
  };
}

export const memcachedProbe: Probe = {
  id: 'memcached',
  service: 'memcached',
  title: 'Memcached (ASCII protocol over TCP)',
  ports: [11211],
  tags: ['data-store', 'cache'],
  levels: {
    fingerprint: 'Sends `version` and expects `VERSION x.y.z` (or the auth-file refusal `CLIENT_ERROR unauthenticated`).',
    'auth-check': 'Sends `stats`; a STAT listing with integer pid, uptime, curr_items and curr_connections proves no authentication is needed.',
    metadata: 'Reports curr_items and bytes from the same `stats` answer.',
    sample:
      'Reads up to N key names with `lru_crawler metadump all` (cut off after N), then `get` for those keys; values go through the detector and are never kept.',
  },
  remediation: REMEDIATION,
  fingerprint,
  assess,
};
