/**
 * PostgreSQL: an SSLRequest to identify (every server answers one byte, S or N), then a login as
 * `postgres` with no password at all. Succeeding means trust auth (or an empty-password role). All
 * queries run inside a READ ONLY transaction that is rolled back.
 */
import pg from 'pg';
import { newestOrder, type NewestOrder } from '../../db/index.js';
import { proveSession } from '../assessments.js';
import { inspectRows, MAX_DATABASES, MAX_TABLES_PER_DATABASE, rateExposure } from '../evidence.js';
import { isFailure } from '../transports/result.js';
import { noteStall } from '../transports/stalls.js';
import { tcpExchange } from '../transports/tcp.js';
import { levelAllowed, type Assessment, type DatabaseEvidence, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
/** Published defaults: postgres/postgres (Langfuse's and many compose files). */
const DEFAULT_LOGINS: Array<[string, string]> = [['postgres', 'postgres']];
const MAX_SAMPLED_TABLES = 25;
const MAX_CELL_CHARS = 64 * 1024;

class PasswordWithheld extends Error {}

interface Login {
  user: string;
  password?: string;
}

/** Connects with a hard deadline; a server that asks for a password gets none (the login fails). */
async function connect(ctx: ProbeContext, login: Login, database: string): Promise<pg.Client | Error> {
  const client = new pg.Client({
    host: ctx.host,
    port: ctx.port,
    user: login.user,
    database,
    password: login.password ?? (() => Promise.reject(new PasswordWithheld('server asked for a password'))),
    ssl: false,
    application_name: 'warden-scan',
    connectionTimeoutMillis: ctx.timeoutMs,
    query_timeout: ctx.timeoutMs,
    statement_timeout: ctx.timeoutMs,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('BEGIN READ ONLY');
    await proveSession((sql) => client.query<{ p: string }>(sql).then((r) => r.rows[0]?.p));
    return client;
  } catch (err) {
    void client.end().catch(() => {});
    if (/timeout|timed out/i.test((err as Error).message)) noteStall();
    return err as Error;
  }
}

/** Rolls back the read-only transaction and disconnects, without waiting: nothing was changed. */
function close(c: pg.Client): void {
  void c
    .query('ROLLBACK')
    .catch(() => {})
    .finally(() => c.end().catch(() => {}));
}

/** The indexed column to sample newest rows by (an index's leading column, so ORDER BY … DESC LIMIT stays cheap). */
async function newestIndexed(client: pg.Client, ident: string): Promise<NewestOrder | undefined> {
  const { rows } = await client.query<{ name: string; type: string; pk: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, i.indisprimary AS pk
       FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = $1::regclass`,
    [ident],
  );
  return newestOrder(
    rows.map((r) => ({ name: r.name, type: r.type.toLowerCase() })),
    { key: rows.filter((r) => r.pk).map((r) => r.name) },
  );
}

async function tablesOf(client: pg.Client, ctx: ProbeContext, budget: { sampled: number }): Promise<DatabaseEvidence['tables']> {
  const { rows } = await client.query<{ schema: string; name: string; rows: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, (CASE WHEN c.reltuples > 0 THEN c.reltuples ELSE COALESCE(s.n_live_tup, 0) END)::bigint AS rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 3 DESC, 1, 2 LIMIT ${MAX_TABLES_PER_DATABASE}`,
  );
  const tables: DatabaseEvidence['tables'] = [];
  for (const t of rows) {
    const table: DatabaseEvidence['tables'][number] = { name: t.schema === 'public' ? t.name : `${t.schema}.${t.name}`, rows: Number(t.rows) };
    if (ctx.sample > 0 && budget.sampled < MAX_SAMPLED_TABLES) {
      budget.sampled++;
      try {
        const ident = `${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.name)}`;
        const newest = await newestIndexed(client, ident);
        const order = newest ? ` ORDER BY ${client.escapeIdentifier(newest.column)} DESC NULLS LAST` : '';
        const sample = await client.query({ text: `SELECT * FROM ${ident}${order} LIMIT ${Math.floor(ctx.sample)}`, rowMode: 'array' });
        const names = sample.fields.map((f) => f.name);
        const asRows = sample.rows.map((r: unknown[]) =>
          Object.fromEntries(names.map((n, i) => [n, typeof r[i] === 'string' ? (r[i] as string).slice(0, MAX_CELL_CHARS) : r[i]])),
        );
        const seen = inspectRows(asRows, ctx.detector, names);
        const read = newest ? { order: 'newest-by-column', column: newest.column } : { order: 'first' };
        Object.assign(table, {
          sampledRows: seen.sampledRows,
          sample: { rows: seen.sampledRows, ...read },
          credentials: seen.credentials,
          conversationColumns: seen.conversationColumns,
        });
      } catch {
        // a table we may not read (privileges, timeouts) keeps its count only
      }
    }
    tables.push(table);
  }
  return tables;
}

async function inventory(client: pg.Client, ctx: ProbeContext, login: Login, evidence: Evidence): Promise<void> {
  const role = await client.query<{ user: string; rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
    'SELECT current_user AS user, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user',
  );
  const r = role.rows[0];
  if (r) {
    evidence.user = r.user;
    evidence.privileges = [r.rolsuper ? 'superuser' : 'not superuser', ...(r.rolcreaterole ? ['CREATEROLE'] : []), ...(r.rolcreatedb ? ['CREATEDB'] : [])];
  }
  const dbs = await client.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY datname LIMIT ${MAX_DATABASES}`,
  );
  const budget = { sampled: 0 };
  const databases: DatabaseEvidence[] = [];
  for (const { datname } of dbs.rows) {
    const c = await connect(ctx, login, datname);
    if (c instanceof Error) {
      databases.push({ name: datname, tables: [] });
      continue;
    }
    try {
      databases.push({ name: datname, tables: await tablesOf(c, ctx, budget) });
    } catch {
      databases.push({ name: datname, tables: [] });
    } finally {
      close(c);
    }
  }
  evidence.databases = databases;
}

export const postgresql: Probe = {
  id: 'postgresql',
  service: 'postgresql',
  title: 'PostgreSQL',
  ports: [5432],
  tags: ['data-store', 'relational'],
  levels: {
    port: 'TCP connect.',
    fingerprint: 'SSLRequest (8 bytes); PostgreSQL answers one byte, S or N.',
    'auth-check':
      'StartupMessage as user postgres, database postgres, with no password (the login fails if the server asks for one); open only when SELECT of the product of two random numbers is answered right.',
    metadata:
      "In a READ ONLY transaction: version(), the role's superuser/CREATEROLE/CREATEDB flags, pg_database names, and per database the largest tables with row estimates from pg_class/pg_stat_user_tables.",
    'default-credentials': 'With --default-credentials: login as postgres with its published default password.',
    sample:
      'With --sample N: SELECT * ... ORDER BY <column> DESC LIMIT N per table (at most 25 tables), newest first by the leading column of an index when it is a timestamp (else an integer primary key; else no ORDER BY), in a READ ONLY transaction, scanned in memory; only counts kept.',
  },
  remediation:
    'Replace trust entries in pg_hba.conf with scram-sha-256, give every role a strong password, set listen_addresses to the interfaces that need it, and firewall 5432; require TLS (hostssl) for remote clients.',
  readPath: { scheme: 'postgres', user: 'postgres', path: '/' },

  async fingerprint(ctx): Promise<Fingerprint | undefined> {
    const reply = await tcpExchange(ctx.host, ctx.port, SSL_REQUEST, (b) => b.length, {
      timeoutMs: ctx.timeoutMs,
      maxBytes: 1024,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    // Exactly one byte: a server that sends more (a banner, garbage) is not PostgreSQL.
    if (isFailure(reply) || reply.length !== 1 || (reply[0] !== 0x4e && reply[0] !== 0x53)) return undefined;
    return { service: 'postgresql', details: { tls: reply[0] === 0x53 } };
  },

  async assess(ctx): Promise<Assessment> {
    const evidence: Evidence = { notes: [] };
    let login: Login = { user: 'postgres' };
    let client = await connect(ctx, login, 'postgres');
    let auth: Assessment['auth'];
    if (!(client instanceof Error)) auth = 'none';
    else if (client instanceof PasswordWithheld || /password|authentication|pg_hba|no such user|role .* does not exist/i.test(client.message))
      auth = 'required';
    else {
      auth = 'unknown';
      evidence.notes.push(`login attempt ended: ${client.message.slice(0, 200)}`);
    }
    if (auth === 'required' && ctx.defaultCredentials) {
      for (const [user, password] of DEFAULT_LOGINS) {
        const c = await connect(ctx, { user, password }, 'postgres');
        if (!(c instanceof Error)) {
          [client, login, auth] = [c, { user, password }, 'default-credentials'];
          evidence.credentialsAccepted = `${user}:<published default password>`;
          break;
        }
      }
    }
    if (!(client instanceof Error)) {
      try {
        const v = await client.query<{ server_version: string }>('SHOW server_version');
        if (v.rows[0]) evidence.version = v.rows[0].server_version;
        if (levelAllowed('metadata', ctx.maxLevel)) await inventory(client, ctx, login, evidence);
      } catch (err) {
        evidence.notes.push(`metadata incomplete: ${(err as Error).message.slice(0, 200)}`);
      } finally {
        close(client);
      }
    }
    const title =
      auth === 'none'
        ? 'PostgreSQL accepts the postgres user without a password'
        : auth === 'default-credentials'
          ? 'PostgreSQL accepts a published default password'
          : auth === 'required'
            ? 'PostgreSQL requires authentication'
            : 'PostgreSQL: access could not be determined';
    return {
      auth,
      severity: rateExposure(auth, 'data-store', evidence),
      title,
      evidence,
      reproduce: `psql -h ${ctx.host} -p ${ctx.port} -U postgres -w -c '\\l'`,
    };
  },
};
