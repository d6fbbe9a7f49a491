/**
 * Redis (and Valkey, KeyDB): PING to identify, INFO to prove access, DBSIZE and the keyspace for counts.
 * Read-only commands only: never CONFIG, KEYS, FLUSH*, CLIENT LIST, EVAL, MODULE or any write.
 */
import { inspectRows, rateExposure } from '../evidence.js';
import { encodeCommand, parseReply, respFrame, RespError, type RespValue } from '../transports/resp.js';
import { isFailure } from '../transports/result.js';
import { connectTcp, TcpConnection } from '../transports/tcp.js';
import { levelAllowed, type Assessment, type DatabaseEvidence, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

/** Published defaults: Langfuse's compose file ships this password. */
const DEFAULT_PASSWORDS = ['myredissecret'];
const AUTH_ERROR = /^(NOAUTH|WRONGPASS|DENIED)|Authentication required|protected mode/i;
const MAX_DATABASES_SAMPLED = 4;
const MAX_VALUE_BYTES = 64 * 1024;

class RedisSession {
  private constructor(
    private readonly conn: TcpConnection,
    private readonly ctx: ProbeContext,
  ) {}

  static async open(ctx: ProbeContext): Promise<RedisSession | undefined> {
    const conn = await connectTcp(ctx.host, ctx.port, { timeoutMs: ctx.timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    return conn instanceof TcpConnection ? new RedisSession(conn, ctx) : undefined;
  }

  /** One command, one reply; undefined when the peer did not answer in RESP. */
  async call(...args: Array<string | number>): Promise<RespValue | undefined> {
    this.conn.write(encodeCommand(args));
    const reply = await this.conn.read(respFrame, { timeoutMs: this.ctx.timeoutMs, maxBytes: 2 * MAX_VALUE_BYTES });
    if (isFailure(reply)) return undefined;
    const parsed = parseReply(reply);
    return parsed.state === 'ok' ? parsed.value : undefined;
  }

  close(): void {
    this.conn.close();
  }
}

const infoField = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();

/** An INFO reply as only Redis (Valkey, KeyDB) gives an authorised client: a bulk string with its version line. */
const isRedisInfo = (info: RespValue | undefined): info is string => typeof info === 'string' && /^redis_version:\d+\.\d+/m.test(info);

/**
 * A second proof that a plausible first answer cannot fake: DBSIZE answers an integer. One well-formed
 * reply is not proof of open access; a look-alike that says +PONG and then anything is not an open Redis.
 */
async function provesAccess(s: RedisSession): Promise<boolean> {
  const size = await s.call('DBSIZE');
  return typeof size === 'number' && Number.isSafeInteger(size) && size >= 0;
}

/** Samples up to ctx.sample keys of one database: strings by GETRANGE, hashes by HSCAN, lists by LRANGE, all capped. */
async function sampleDatabase(s: RedisSession, ctx: ProbeContext, db: number): Promise<ReturnType<typeof inspectRows> | undefined> {
  if (db !== 0 && !(typeof (await s.call('SELECT', db)) === 'string')) return undefined;
  const scanned = await s.call('SCAN', 0, 'COUNT', Math.max(10, ctx.sample));
  const keys =
    Array.isArray(scanned) && Array.isArray(scanned[1])
      ? (scanned[1] as RespValue[]).filter((k): k is string => typeof k === 'string').slice(0, ctx.sample)
      : [];
  const rows: Array<Record<string, unknown>> = [];
  for (const key of keys) {
    const type = await s.call('TYPE', key);
    let value: RespValue | undefined;
    if (type === 'string') value = await s.call('GETRANGE', key, 0, MAX_VALUE_BYTES - 1);
    else if (type === 'hash') value = await s.call('HSCAN', key, 0, 'COUNT', 50);
    else if (type === 'list') value = await s.call('LRANGE', key, 0, 49);
    if (value === undefined || value instanceof RespError) continue;
    // The key name is kept only in memory as a column label; reports carry counts alone.
    rows.push({ value, key });
  }
  return inspectRows(rows, ctx.detector);
}

export const redis: Probe = {
  id: 'redis',
  service: 'redis',
  title: 'Redis',
  ports: [6379, 6380, 7000],
  tags: ['data-store', 'cache', 'queue'],
  levels: {
    port: 'TCP connect.',
    fingerprint: 'PING; Redis answers +PONG, or -NOAUTH/-DENIED when locked.',
    'auth-check': 'INFO server and DBSIZE with no AUTH; open only when INFO carries redis_version and DBSIZE answers an integer.',
    metadata: 'INFO keyspace, ACL WHOAMI (no key names are reported).',
    'default-credentials': "With --default-credentials: AUTH with published default passwords (e.g. Langfuse's compose file).",
    sample:
      'With --sample N: SCAN 0 COUNT N, TYPE, and GETRANGE (first 64 KiB) / HSCAN / LRANGE 0 49 per key in up to 4 databases; values are scanned in memory, only counts kept.',
  },
  remediation:
    'Require authentication (requirepass, or ACL users with `user default off`), bind to private interfaces (bind 127.0.0.1 ::1 or a private address), keep protected-mode on, firewall 6379, and use TLS (tls-port).',
  readPath: { scheme: 'redis', path: '/0', keyspace: true },

  async fingerprint(ctx): Promise<Fingerprint | undefined> {
    const s = await RedisSession.open(ctx);
    if (!s) return undefined;
    try {
      const pong = await s.call('PING');
      if (pong === 'PONG') return { service: 'redis', details: { locked: false } };
      if (pong instanceof RespError && AUTH_ERROR.test(pong.message)) return { service: 'redis', details: { locked: true } };
      return undefined;
    } finally {
      s.close();
    }
  },

  async assess(ctx): Promise<Assessment> {
    const evidence: Evidence = { notes: [] };
    const s = await RedisSession.open(ctx);
    if (!s) return { auth: 'unknown', severity: 'info', title: 'Redis: access could not be determined', evidence: { notes: ['connection failed'] } };
    try {
      let auth: Assessment['auth'] = 'unknown';
      let info = await s.call('INFO', 'server');
      if (isRedisInfo(info) && (await provesAccess(s))) auth = 'none';
      else if (info instanceof RespError && AUTH_ERROR.test(info.message)) {
        auth = 'required';
        if (/protected mode|DENIED/i.test(info.message)) evidence.notes.push('protected mode refuses commands from this address');
        if (ctx.defaultCredentials) {
          for (const password of DEFAULT_PASSWORDS) {
            if ((await s.call('AUTH', password)) === 'OK') {
              info = await s.call('INFO', 'server');
              if (isRedisInfo(info) && (await provesAccess(s))) {
                auth = 'default-credentials';
                evidence.credentialsAccepted = 'default:<published default password>';
              } else [auth] = ['unknown', evidence.notes.push('AUTH answered OK, but INFO and DBSIZE gave no proof of access')];
              break;
            }
          }
        }
      } else evidence.notes.push('INFO and DBSIZE did not both get a well-formed Redis answer: no proof of access');
      if (isRedisInfo(info)) {
        const version = infoField(info, 'redis_version');
        if (version) evidence.version = version;
        const mode = infoField(info, 'redis_mode');
        if (mode && mode !== 'standalone') evidence.notes.push(`mode ${mode}`);
      }
      if ((auth === 'none' || auth === 'default-credentials') && levelAllowed('metadata', ctx.maxLevel)) {
        const who = await s.call('ACL', 'WHOAMI');
        if (typeof who === 'string') evidence.user = who;
        const keyspace = await s.call('INFO', 'keyspace');
        const databases: DatabaseEvidence[] = [];
        if (typeof keyspace === 'string') {
          for (const m of keyspace.matchAll(/^db(\d+):keys=(\d+)/gm)) databases.push({ name: `db${m[1]}`, tables: [{ name: '(keys)', rows: Number(m[2]) }] });
        }
        if (ctx.sample > 0) {
          for (const db of databases.slice(0, MAX_DATABASES_SAMPLED)) {
            const seen = await sampleDatabase(s, ctx, Number(db.name.slice(2)));
            if (seen)
              Object.assign(db.tables[0]!, {
                sampledRows: seen.sampledRows,
                credentials: seen.credentials,
                conversationColumns: seen.conversationColumns.filter((c) => c !== 'key'),
              });
          }
        }
        evidence.databases = databases;
      }
      const title =
        auth === 'none'
          ? 'Redis answers commands without authentication'
          : auth === 'default-credentials'
            ? 'Redis accepts a published default password'
            : auth === 'required'
              ? 'Redis requires authentication'
              : 'Redis: access could not be determined';
      return {
        auth,
        severity: rateExposure(auth, 'data-store', evidence),
        title,
        evidence,
        reproduce: `redis-cli -h ${ctx.host} -p ${ctx.port} INFO keyspace`,
      };
    } finally {
      s.close();
    }
  },
};
