/**
 * ClickHouse over HTTP (8123): the interface the DeepSeek replica left open. Every query is a GET, which
 * ClickHouse runs read-only, with execution and result caps in the URL. No user table is read unless
 * --sample asks for rows, and then only from local storage engines (never Kafka, URL, File, remote).
 */
import { randomInt } from 'node:crypto';
import { CLICKHOUSE_LOCAL_ENGINES, newestOrder, quoteClickHouseIdent, quoteClickHouseString, type ColumnInfo } from '../../db/index.js';
import { bracketHost } from '../../host-port.js';
import { conversationColumnsByName, inspectRows, MAX_DATABASES, MAX_TABLES_PER_DATABASE, rateExposure } from '../evidence.js';
import { httpGet, type HttpReply } from '../transports/http.js';
import { isFailure, type TransportFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type DatabaseEvidence, type Evidence, type Probe, type ProbeContext, type SampleOrder } from '../types.js';

const SYSTEM_DATABASES = `('system','INFORMATION_SCHEMA','information_schema')`;
/** Engines whose rows live on the server's own disk or memory: reading them has no side effect. */
/** Login failures across versions: 192 unknown user, 193 wrong password, 194 password required (18.x), 516 (20.x+). */
const AUTH_FAILURE = /Code: (192|193|194|195|516)\b|Authentication failed|password is incorrect|Password required|Wrong password|Unknown user/i;
const MAX_SAMPLED_TABLES = 25;
/** Of a sample, this share is the newest rows; the rest is a random share of the older ones (an old key stays live until revoked). */
const NEWEST_SHARE = 0.75;
/** Parts read one by one for the newest rows; a table of many tiny parts costs at most this many queries. */
const MAX_NEWEST_PARTS = 10;
const SAMPLE_BYTES = 2 * 1024 * 1024;
/** Published defaults: Langfuse's compose file ships clickhouse/clickhouse. */
const DEFAULT_LOGINS: Array<[string, string]> = [['clickhouse', 'clickhouse']];

interface Session {
  ctx: ProbeContext;
  headers: Record<string, string>;
}

function query(s: Session, sql: string, maxBytes = 256 * 1024): Promise<HttpReply | TransportFailure> {
  const params = new URLSearchParams({ query: sql, max_execution_time: '5', max_result_bytes: String(maxBytes) });
  return httpGet({
    host: s.ctx.host,
    port: s.ctx.port,
    path: `/?${params}`,
    headers: s.headers,
    timeoutMs: s.ctx.timeoutMs,
    maxBytes,
    ...(s.ctx.signal ? { signal: s.ctx.signal } : {}),
  });
}

function jsonRows(reply: HttpReply): Array<Record<string, unknown>> {
  const text = reply.body.toString('utf8');
  // A truncated body ends mid-row: keep only complete lines.
  const lines = text.split('\n');
  if (reply.truncated) lines.pop();
  const rows: Array<Record<string, unknown>> = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    try {
      const row = JSON.parse(line) as unknown;
      if (row && typeof row === 'object' && !Array.isArray(row)) rows.push(row as Record<string, unknown>);
    } catch {
      // not a row: ignore
    }
  }
  return rows;
}

async function okRows(s: Session, sql: string, maxBytes?: number): Promise<Array<Record<string, unknown>> | undefined> {
  const reply = await query(s, `${sql} FORMAT JSONEachRow`, maxBytes);
  return !isFailure(reply) && reply.status === 200 ? jsonRows(reply) : undefined;
}

/** SHOW GRANTS where it exists (20.x+); on older servers the profile's readonly and allow_ddl settings. */
async function privileges(s: Session): Promise<string[]> {
  const grants = await query(s, 'SHOW GRANTS FORMAT TSV');
  if (!isFailure(grants) && grants.status === 200) return grants.body.toString('utf8').split('\n').filter(Boolean).slice(0, 50);
  const settings = await okRows(s, `SELECT name, value FROM system.settings WHERE name IN ('readonly','allow_ddl')`);
  if (!settings) return [];
  return settings.map((r) => {
    const name = String(r.name);
    const value = String(r.value);
    // ClickHouse raises readonly 0 to 2 for GET requests, so 2 here means the account itself may write over POST.
    if (name === 'readonly')
      return value === '1'
        ? 'readonly=1 (account is read-only)'
        : `readonly=${value} (read-only only because the request was a GET; the account can write over POST)`;
    return `${name}=${value}`;
  });
}

interface SampleTarget {
  database: string;
  name: string;
  engine: string;
  rows: number | undefined;
  columns: ColumnInfo[];
  sortingKey: string[];
}

/**
 * Up to --sample rows of one table, newest first. MergeTree: from the most recently written parts (by
 * block number, which only grows), newest part first and newest first by the time column within each when
 * there is one, plus a random share of the other parts; ClickHouse 18 cannot read a sorting key backwards, so this keeps the
 * read to the newest parts instead of the whole table. Other local engines: by the time column, else at
 * random. When that query fails (a timeout on a huge part), the first rows, as before, and the report says so.
 */
async function sampleTable(s: Session, t: SampleTarget): Promise<{ rows: Array<Record<string, unknown>>; sample: SampleOrder } | undefined> {
  const n = Math.floor(s.ctx.sample);
  const from = `${quoteClickHouseIdent(t.database)}.${quoteClickHouseIdent(t.name)}`;
  const newest = newestOrder(t.columns, { key: t.sortingKey });
  const byColumn = newest ? ` ORDER BY ${quoteClickHouseIdent(newest.column)} DESC` : '';
  const column = newest ? { column: newest.column } : {};
  if (/MergeTree$/.test(t.engine)) {
    const parts = await okRows(
      s,
      `SELECT name, rows FROM system.parts WHERE active AND database = ${quoteClickHouseString(t.database)} AND table = ${quoteClickHouseString(t.name)} ORDER BY max_block_number DESC, modification_time DESC LIMIT ${MAX_NEWEST_PARTS}`,
    );
    if (parts?.length) {
      // The newest parts that hold the newest share; when they are the whole table, the sample is all newest.
      let wanted = Math.max(1, Math.ceil(n * NEWEST_SHARE));
      const chosen: string[] = [];
      let covered = 0;
      for (const p of parts) {
        if (covered >= wanted) break;
        chosen.push(quoteClickHouseString(String(p.name)));
        covered += Number(p.rows);
      }
      const rest = (t.rows ?? covered) - covered;
      if (rest <= 0) wanted = n;
      // Part by part, newest first: one query over several parts would return them in any order.
      const newestRows: Array<Record<string, unknown>> = [];
      for (const part of chosen) {
        if (newestRows.length >= wanted) break;
        const got = await okRows(s, `SELECT * FROM ${from} WHERE _part = ${part}${byColumn} LIMIT ${wanted - newestRows.length}`, SAMPLE_BYTES);
        if (!got) break;
        newestRows.push(...got);
      }
      if (newestRows.length) {
        const randomWanted = n - newestRows.length;
        // About four times the rows wanted pass the filter, spread over the older parts; LIMIT stops the read early.
        // The subquery is needed: ClickHouse 18.16 filters nothing by rand() beside a _part condition in one WHERE.
        const modulus = Math.max(1, Math.floor(rest / (4 * Math.max(1, randomWanted))));
        const older = `SELECT * FROM ${from} WHERE _part NOT IN (${chosen.join(', ')})`;
        const randomRows =
          randomWanted > 0 && rest > 0
            ? ((await okRows(s, `SELECT * FROM (${older}) WHERE rand() % ${modulus} = 0 LIMIT ${randomWanted}`, SAMPLE_BYTES)) ?? [])
            : [];
        const rows = [...newestRows, ...randomRows];
        return { rows, sample: { rows: rows.length, order: 'newest-parts', ...column, ...(randomRows.length ? { randomRows: randomRows.length } : {}) } };
      }
    }
  } else {
    const rows = await okRows(s, `SELECT * FROM ${from}${byColumn || ' ORDER BY rand()'} LIMIT ${n}`, SAMPLE_BYTES);
    if (rows) return { rows, sample: { rows: rows.length, order: newest ? 'newest-by-column' : 'random', ...column } };
  }
  const rows = await okRows(s, `SELECT * FROM ${from} LIMIT ${n}`, SAMPLE_BYTES);
  return rows ? { rows, sample: { rows: rows.length, order: 'first' } } : undefined;
}

async function inventory(s: Session, evidence: Evidence): Promise<void> {
  const tables = await okRows(
    s,
    `SELECT database, name, engine, sorting_key FROM system.tables WHERE database NOT IN ${SYSTEM_DATABASES} ORDER BY database, name LIMIT ${MAX_TABLES_PER_DATABASE + 1} BY database LIMIT ${MAX_DATABASES * (MAX_TABLES_PER_DATABASE + 1)}`,
    1024 * 1024,
  );
  if (!tables) {
    evidence.notes.push('system.tables could not be read');
    return;
  }
  const parts =
    (await okRows(
      s,
      `SELECT database, table, sum(rows) AS rows FROM system.parts WHERE active AND database NOT IN ${SYSTEM_DATABASES} GROUP BY database, table`,
      1024 * 1024,
    )) ?? [];
  const rowCount = new Map(parts.map((p) => [`${p.database}\u0000${p.table}`, Number(p.rows)]));
  const columns =
    (await okRows(s, `SELECT database, table, name, type FROM system.columns WHERE database NOT IN ${SYSTEM_DATABASES} LIMIT 20000`, 1024 * 1024)) ?? [];
  const columnsOf = new Map<string, ColumnInfo[]>();
  for (const c of columns) {
    const key = `${c.database}\u0000${c.table}`;
    columnsOf.set(key, [...(columnsOf.get(key) ?? []), { name: String(c.name), type: String(c.type).toLowerCase() }]);
  }
  const databases = new Map<string, DatabaseEvidence>();
  let sampled = 0;
  for (const t of tables) {
    const dbName = String(t.database);
    let db = databases.get(dbName);
    if (!db) {
      if (databases.size >= MAX_DATABASES) break;
      db = { name: dbName, tables: [] };
      databases.set(dbName, db);
    }
    if (db.tables.length >= MAX_TABLES_PER_DATABASE) {
      db.truncated = true;
      continue;
    }
    const key = `${dbName}\u0000${t.name}`;
    const rows = rowCount.get(key);
    const typed = columnsOf.get(key) ?? [];
    const cols = typed.map((c) => c.name);
    const named = conversationColumnsByName(cols);
    const table: DatabaseEvidence['tables'][number] = {
      name: String(t.name),
      ...(rows !== undefined ? { rows } : {}),
      ...(named.length ? { conversationColumns: named } : {}),
    };
    if (s.ctx.sample > 0 && sampled < MAX_SAMPLED_TABLES && CLICKHOUSE_LOCAL_ENGINES.test(String(t.engine))) {
      sampled++;
      const sortingKey = String(t.sorting_key ?? '')
        .split(',')
        .map((k) => k.trim())
        .filter(Boolean);
      const read = await sampleTable(s, { database: dbName, name: String(t.name), engine: String(t.engine), rows, columns: typed, sortingKey });
      if (read) {
        const seen = inspectRows(read.rows, s.ctx.detector, cols);
        Object.assign(table, {
          sampledRows: seen.sampledRows,
          sample: read.sample,
          credentials: seen.credentials,
          conversationColumns: seen.conversationColumns,
        });
      }
    }
    db.tables.push(table);
  }
  evidence.databases = [...databases.values()];
}

/**
 * Proof of a login: the server's version and the product of two random numbers, which only a server that
 * ran the query can give (a look-alike that answers every URL with a version-shaped string is no proof).
 */
async function provenLogin(s: Session): Promise<{ version?: string; reply: HttpReply | TransportFailure }> {
  const [a, b] = [randomInt(1000, 1_000_000), randomInt(1000, 1_000_000)];
  const reply = await query(s, `SELECT version(), ${a} * ${b} FORMAT TSV`);
  if (isFailure(reply) || reply.status !== 200) return { reply };
  const answer = /^(\d+\.\d+[\d.]*)\t(\d+)\n?$/.exec(reply.body.toString('utf8'));
  return answer && answer[2] === String(a * b) ? { version: answer[1]!, reply } : { reply };
}

/** Tries the anonymous default user, then (only with --default-credentials) published default logins. */
async function login(ctx: ProbeContext): Promise<{ auth: Assessment['auth']; session: Session; version?: string; note?: string; accepted?: string }> {
  const anonymous: Session = { ctx, headers: {} };
  const { version, reply } = await provenLogin(anonymous);
  if (version) return { auth: 'none', session: anonymous, version };
  if (isFailure(reply)) return { auth: 'unknown', session: anonymous, note: `no answer to a query: ${reply.message}` };
  const body = reply.body.toString('utf8');
  if (!(reply.status === 401 || reply.status === 403 || AUTH_FAILURE.test(body)))
    return { auth: 'unknown', session: anonymous, note: `the query got no proof of a login (HTTP ${reply.status}, not the computed answer)` };
  if (ctx.defaultCredentials) {
    for (const [user, password] of DEFAULT_LOGINS) {
      const session: Session = { ctx, headers: { 'X-ClickHouse-User': user, 'X-ClickHouse-Key': password } };
      const proven = await provenLogin(session);
      if (proven.version) return { auth: 'default-credentials', session, version: proven.version, accepted: `${user}:<published default password>` };
    }
  }
  return { auth: 'required', session: anonymous };
}

export const clickhouseHttp: Probe = {
  id: 'clickhouse-http',
  service: 'clickhouse',
  title: 'ClickHouse HTTP interface',
  ports: [8123, 8124, 18123],
  tags: ['data-store', 'analytics', 'logs'],
  levels: {
    port: 'TCP connect.',
    fingerprint: 'GET /ping; ClickHouse answers "Ok.".',
    'auth-check':
      'GET /?query=SELECT version(), a * b (two random numbers) with no credentials (GET is read-only in ClickHouse); open only when the answer is the version and the right product.',
    metadata: 'GET queries on system.tables, system.parts (row counts), system.columns (names only), SHOW GRANTS or system.settings.',
    'default-credentials': 'With --default-credentials: the same query as user clickhouse with its published default password, with the same proof.',
    sample:
      'With --sample N: up to N rows per table (local engines only, at most 25 tables), newest first: MergeTree from the most recently written parts (system.parts by block number, WHERE _part IN …, ORDER BY the time column DESC when there is one) plus a random quarter from the other parts; other engines ORDER BY the time column DESC, else rand(). Scanned for credentials in memory; only counts are kept.',
  },
  remediation:
    'Set a password on every ClickHouse user (users.xml <password_sha256_hex>, or CREATE USER ... IDENTIFIED WITH sha256_password), restrict <networks> to the hosts that need it, listen only on private interfaces (<listen_host>) behind a firewall, and use HTTPS (8443).',
  readPath: { scheme: 'clickhouse', user: 'default', path: '/' },

  async fingerprint(ctx) {
    const reply = await httpGet({
      host: ctx.host,
      port: ctx.port,
      path: '/ping',
      timeoutMs: ctx.timeoutMs,
      maxBytes: 1024,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    if (isFailure(reply) || reply.status !== 200 || reply.body.toString('utf8') !== 'Ok.\n') return undefined;
    return { service: 'clickhouse', details: { interface: 'http' } };
  },

  async assess(ctx, fp) {
    const base = `http://${bracketHost(ctx.host)}:${ctx.port}`;
    const { auth, session, version, note, accepted } = await login(ctx);
    const evidence: Evidence = { ...((version ?? fp.version) ? { version: version ?? fp.version } : {}), notes: note ? [note] : [] };
    if (accepted) evidence.credentialsAccepted = accepted;
    if (auth === 'none' || auth === 'default-credentials') {
      const user = await okRows(session, 'SELECT currentUser() AS user');
      evidence.user = user?.[0] ? String(user[0].user) : accepted ? accepted.split(':')[0]! : 'default';
      if (levelAllowed('metadata', ctx.maxLevel)) {
        evidence.privileges = await privileges(session);
        await inventory(session, evidence);
      }
    }
    const severity = rateExposure(auth, 'data-store', evidence);
    const title =
      auth === 'none'
        ? 'ClickHouse HTTP interface answers SQL without a password'
        : auth === 'default-credentials'
          ? 'ClickHouse HTTP interface accepts a published default password'
          : auth === 'required'
            ? 'ClickHouse HTTP interface requires authentication'
            : 'ClickHouse HTTP interface: access could not be determined';
    return { auth, severity, title, evidence, reproduce: `curl -s '${base}/?query=SHOW%20DATABASES'` };
  },
};
