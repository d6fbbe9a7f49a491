/**
 * MySQL / MariaDB: the server speaks first (a Handshake v10 with its version, or an ERR packet when this
 * host is not allowed). Access is proven by logins that carry no password: root with an empty password
 * and the anonymous user. Everything after login runs in a READ ONLY transaction.
 */
import mysql from 'mysql2/promise';
import { newestOrder, type NewestOrder } from '../../db/index.js';
import { proveSession } from '../assessments.js';
import { inspectRows, MAX_DATABASES, MAX_TABLES_PER_DATABASE, rateExposure } from '../evidence.js';
import { isFailure } from '../transports/result.js';
import { noteStall } from '../transports/stalls.js';
import { tcpExchange, type FrameCheck } from '../transports/tcp.js';
import { levelAllowed, type Assessment, type DatabaseEvidence, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const SYSTEM_SCHEMAS = `('mysql','information_schema','performance_schema','sys')`;
/** Logins with no password at all, tried at the auth-check level. */
const PASSWORDLESS_USERS = ['root', ''];
/** Published defaults, tried only with --default-credentials. */
const DEFAULT_LOGINS: Array<[string, string]> = [
  ['root', 'root'],
  ['root', 'mysql'],
];
const MAX_SAMPLED_TABLES = 25;
const MAX_CELL_CHARS = 64 * 1024;

/** One MySQL packet: 3-byte length, 1-byte sequence id, payload. */
const packetFrame: FrameCheck = (b) => (b.length >= 4 && b.length >= 4 + b.readUIntLE(0, 3) ? 4 + b.readUIntLE(0, 3) : 0);

function parseGreeting(packet: Buffer): Fingerprint | undefined {
  const length = packet.readUIntLE(0, 3);
  if (packet[3] !== 0 || length < 3 || length > 1024) return undefined;
  const payload = packet.subarray(4, 4 + length);
  if (payload[0] === 0x0a) {
    const end = payload.indexOf(0, 1);
    const version = end > 1 ? payload.toString('latin1', 1, end) : '';
    if (!/^\d+\.\d+[\w.+~-]*$/.test(version)) return undefined;
    return { service: 'mysql', version: version.replace(/^5\.5\.5-/, ''), details: { mariadb: /mariadb/i.test(version) } };
  }
  if (payload[0] === 0xff && payload.length > 3) {
    const message = payload.toString('utf8', 3, Math.min(payload.length, 300));
    if (/not allowed to connect|Too many connections|blocked because of many connection errors/i.test(message))
      return { service: 'mysql', details: { refused: message.slice(0, 120), code: payload.readUInt16LE(1) } };
  }
  return undefined;
}

async function login(ctx: ProbeContext, user: string, password: string): Promise<mysql.Connection | Error> {
  let conn: mysql.Connection | undefined;
  const attempt = mysql
    .createConnection({
      host: ctx.host,
      port: ctx.port,
      user,
      password,
      connectTimeout: ctx.timeoutMs,
      multipleStatements: false,
      supportBigNumbers: true,
      bigNumberStrings: true,
    })
    .then(async (c) => {
      conn = c;
      c.on('error', () => {});
      await c.query({ sql: 'START TRANSACTION READ ONLY', timeout: ctx.timeoutMs });
      await proveSession(async (sql) => {
        const [rows] = await c.query<mysql.RowDataPacket[]>({ sql, timeout: ctx.timeoutMs });
        return rows[0]?.p === undefined ? undefined : String(rows[0].p);
      });
      return c;
    });
  // mysql2's connectTimeout does not cover a server that stalls mid-handshake: add a hard deadline.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error('login timed out')), ctx.timeoutMs * 2);
  });
  const result = await Promise.race([attempt.catch((err: Error) => err), deadline]);
  clearTimeout(timer);
  if (result instanceof Error && /timed? ?out|ETIMEDOUT/i.test(`${result.message} ${(result as NodeJS.ErrnoException).code ?? ''}`)) noteStall();
  if (result instanceof Error) {
    conn?.destroy();
    attempt.then((c) => c.destroy()).catch(() => {});
  }
  return result;
}

function close(c: mysql.Connection): void {
  void c
    .query('ROLLBACK')
    .catch(() => {})
    .finally(() => c.end().catch(() => c.destroy()));
}

async function rows<T>(c: mysql.Connection, ctx: ProbeContext, sql: string): Promise<T[]> {
  const [result] = await c.query({ sql, timeout: ctx.timeoutMs });
  return result as T[];
}

/** The indexed column to sample newest rows by (an index's leading column, so ORDER BY … DESC LIMIT stays cheap). */
async function newestIndexed(c: mysql.Connection, ctx: ProbeContext, db: string, table: string): Promise<NewestOrder | undefined> {
  const [result] = await c.query({
    sql: `SELECT s.column_name AS name, c.column_type AS type, s.index_name = 'PRIMARY' AS pk
            FROM information_schema.statistics s JOIN information_schema.columns c
              ON c.table_schema = s.table_schema AND c.table_name = s.table_name AND c.column_name = s.column_name
           WHERE s.table_schema = ? AND s.table_name = ? AND s.seq_in_index = 1`,
    values: [db, table],
    timeout: ctx.timeoutMs,
  });
  const indexed = result as Array<{ name: string; type: string; pk: number }>;
  return newestOrder(
    indexed.map((r) => ({ name: String(r.name), type: String(r.type).toLowerCase() })),
    { key: indexed.filter((r) => Number(r.pk) === 1).map((r) => String(r.name)) },
  );
}

async function inventory(c: mysql.Connection, ctx: ProbeContext, evidence: Evidence): Promise<void> {
  try {
    const grants = await rows<Record<string, string>>(c, ctx, 'SHOW GRANTS');
    // Grant lines can carry a password hash (IDENTIFIED BY PASSWORD '*...'): drop it.
    evidence.privileges = grants
      .map((g) => String(Object.values(g)[0]).replace(/IDENTIFIED BY PASSWORD\s+'[^']*'/gi, "IDENTIFIED BY PASSWORD '<hash withheld>'"))
      .slice(0, 50);
  } catch {
    evidence.notes.push('SHOW GRANTS failed');
  }
  const tables = await rows<{ db: string; name: string; n: string | null; type: string }>(
    c,
    ctx,
    `SELECT table_schema AS db, table_name AS name, table_rows AS n, table_type AS type FROM information_schema.tables
      WHERE table_schema NOT IN ${SYSTEM_SCHEMAS} AND table_type = 'BASE TABLE' ORDER BY table_schema, table_rows DESC LIMIT ${MAX_DATABASES * MAX_TABLES_PER_DATABASE}`,
  );
  const schemas = await rows<{ db: string }>(
    c,
    ctx,
    `SELECT schema_name AS db FROM information_schema.schemata WHERE schema_name NOT IN ${SYSTEM_SCHEMAS} ORDER BY schema_name LIMIT ${MAX_DATABASES}`,
  );
  const databases = new Map<string, DatabaseEvidence>(schemas.map((s) => [s.db, { name: s.db, tables: [] }]));
  let sampled = 0;
  for (const t of tables) {
    const db = databases.get(t.db);
    if (!db) continue;
    if (db.tables.length >= MAX_TABLES_PER_DATABASE) {
      db.truncated = true;
      continue;
    }
    const table: DatabaseEvidence['tables'][number] = { name: t.name, ...(t.n !== null ? { rows: Number(t.n) } : {}) };
    if (ctx.sample > 0 && sampled < MAX_SAMPLED_TABLES) {
      sampled++;
      try {
        const newest = await newestIndexed(c, ctx, t.db, t.name);
        const order = newest ? ` ORDER BY ${mysql.escapeId(newest.column)} DESC` : '';
        const [result, fields] = await c.query({
          sql: `SELECT * FROM ${mysql.escapeId(t.db)}.${mysql.escapeId(t.name)}${order} LIMIT ${Math.floor(ctx.sample)}`,
          timeout: ctx.timeoutMs,
        });
        const sample = (result as Array<Record<string, unknown>>).map((r) =>
          Object.fromEntries(
            Object.entries(r).map(([k, v]) => [
              k,
              typeof v === 'string' ? v.slice(0, MAX_CELL_CHARS) : Buffer.isBuffer(v) ? v.toString('utf8', 0, MAX_CELL_CHARS) : v,
            ]),
          ),
        );
        const seen = inspectRows(
          sample,
          ctx.detector,
          (fields ?? []).map((f) => f.name),
        );
        const read = newest ? { order: 'newest-by-column', column: newest.column } : { order: 'first' };
        Object.assign(table, {
          sampledRows: seen.sampledRows,
          sample: { rows: seen.sampledRows, ...read },
          credentials: seen.credentials,
          conversationColumns: seen.conversationColumns,
        });
      } catch {
        // unreadable table: keep its count only
      }
    }
    db.tables.push(table);
  }
  evidence.databases = [...databases.values()];
}

export const mysqlProbe: Probe = {
  id: 'mysql',
  service: 'mysql',
  title: 'MySQL / MariaDB',
  ports: [3306, 3307],
  tags: ['data-store', 'relational'],
  levels: {
    port: 'TCP connect.',
    fingerprint: 'Reads the server greeting (Handshake v10: version) without sending anything.',
    'auth-check':
      'Logins with no password: user root with an empty password, then the anonymous user; a login counts only when SELECT of the product of two random numbers is answered right.',
    metadata: 'In a READ ONLY transaction: SHOW GRANTS, information_schema.schemata and information_schema.tables (names and row estimates).',
    'default-credentials': 'With --default-credentials: root/root and root/mysql.',
    sample:
      'With --sample N: SELECT * ... ORDER BY <column> DESC LIMIT N per table (at most 25 tables), newest first by the leading column of an index when it is a datetime/timestamp (else an integer primary key; else no ORDER BY), in a READ ONLY transaction, scanned in memory; only counts kept.',
  },
  remediation:
    "Give every account a strong password (ALTER USER 'root'@'%' IDENTIFIED BY ...), drop anonymous users (DELETE FROM mysql.user WHERE User=''; or mariadb-secure-installation), restrict hosts ('user'@'10.0.0.%'), set bind-address to a private interface, and require TLS (require_secure_transport=ON).",
  readPath: { scheme: 'mysql', user: 'root', path: '/' },

  async fingerprint(ctx) {
    const greeting = await tcpExchange(ctx.host, ctx.port, undefined, packetFrame, {
      timeoutMs: ctx.timeoutMs,
      maxBytes: 2048,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    return isFailure(greeting) ? undefined : parseGreeting(greeting);
  },

  async assess(ctx, fp): Promise<Assessment> {
    const evidence: Evidence = { ...(fp.version ? { version: fp.version } : {}), notes: [] };
    let auth: Assessment['auth'] = 'required';
    let conn: mysql.Connection | undefined;
    if (fp.details?.refused) {
      evidence.notes.push(`server refused this address: ${fp.details.refused}`);
    } else {
      let anyAccessDenied = false;
      for (const user of PASSWORDLESS_USERS) {
        const c = await login(ctx, user, '');
        if (!(c instanceof Error)) {
          [conn, auth] = [c, 'none'];
          evidence.notes.push(user ? `user ${user} logged in with an empty password` : 'the anonymous user logged in');
          break;
        }
        if (/access denied|ER_ACCESS_DENIED|not allowed|auth/i.test(c.message)) anyAccessDenied = true;
        else evidence.notes.push(`login as ${user || 'anonymous'} ended: ${c.message.slice(0, 160)}`);
      }
      if (!conn && !anyAccessDenied) auth = 'unknown';
      if (!conn && ctx.defaultCredentials) {
        for (const [user, password] of DEFAULT_LOGINS) {
          const c = await login(ctx, user, password);
          if (!(c instanceof Error)) {
            [conn, auth] = [c, 'default-credentials'];
            evidence.credentialsAccepted = `${user}:<published default password>`;
            break;
          }
        }
      }
    }
    if (conn) {
      try {
        const [who] = await rows<{ user: string; version: string }>(conn, ctx, 'SELECT CURRENT_USER() AS user, VERSION() AS version');
        if (who) [evidence.user, evidence.version] = [who.user, who.version];
        if (levelAllowed('metadata', ctx.maxLevel)) await inventory(conn, ctx, evidence);
      } catch (err) {
        evidence.notes.push(`metadata incomplete: ${(err as Error).message.slice(0, 160)}`);
      } finally {
        close(conn);
      }
    }
    const title =
      auth === 'none'
        ? 'MySQL/MariaDB accepts a login without a password'
        : auth === 'default-credentials'
          ? 'MySQL/MariaDB accepts a published default password'
          : auth === 'required'
            ? 'MySQL/MariaDB requires authentication'
            : 'MySQL/MariaDB: access could not be determined';
    return {
      auth,
      severity: rateExposure(auth, 'data-store', evidence),
      title,
      evidence,
      reproduce: `mysql -h ${ctx.host} -P ${ctx.port} -u root --skip-password -e 'SHOW DATABASES'`,
    };
  },
};
