import { StringDecoder } from 'node:string_decoder';
import { hostPort } from '../host-port.js';
import { fetchWithoutRedirects } from '../outbound-fetch.js';
import { DbError, DsnError } from './errors.js';
import { quoteClickHouseIdent } from './quote.js';
import type { Database, DbOpenOptions, DbParam, Dsn, TableInfo } from './types.js';

/** Engines whose rows sit on the ClickHouse server itself: reading them touches nothing else (not Kafka, URL, remote). */
export const CLICKHOUSE_LOCAL_ENGINES = /^(\w*MergeTree|Log|TinyLog|StripeLog|Memory)$/;

export const quoteClickHouseString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** ClickHouse 18.x has no server-side query parameters, so values are inlined as escaped literals. */
export function clickHouseLiteral(p: DbParam): string {
  if (p === null) return 'NULL';
  if (p instanceof Date) return `toDateTime(${Math.floor(p.getTime() / 1000)})`;
  if (typeof p === 'boolean') return p ? '1' : '0';
  if (typeof p === 'number') {
    if (!Number.isFinite(p)) throw new DbError(`cannot send ${p} to ClickHouse`);
    return String(p);
  }
  if (typeof p === 'bigint') return p.toString();
  return quoteClickHouseString(p);
}

function inline(sql: string, params?: readonly DbParam[]): string {
  if (!params?.length) return sql;
  let i = 0;
  const out = sql.replace(/\?/g, () => {
    if (i >= params.length) throw new DbError('more placeholders than parameters');
    return clickHouseLiteral(params[i++]!);
  });
  if (i !== params.length) throw new DbError('more parameters than placeholders');
  return out;
}

export interface ClickHouseOptions extends DbOpenOptions {
  /** Per request; a long ALTER returns at once (mutations run in the background), so this stays small. */
  timeoutMs?: number;
}

/** Where and as whom a request goes: the HTTP interface's URL in the DSN's database, and the login headers. */
function endpoint(dsn: Dsn): { url: URL; headers: Record<string, string> } {
  const url = new URL(`http://${hostPort(dsn.host, dsn.port)}/`);
  if (dsn.database) url.searchParams.set('database', dsn.database);
  const headers: Record<string, string> = { 'X-ClickHouse-User': dsn.user };
  if (dsn.password) headers['X-ClickHouse-Key'] = dsn.password;
  return { url, headers };
}

/** The HTTP interface (port 8123): every statement is one POST; SELECTs come back as JSONEachRow. */
export async function openClickHouse(dsn: Dsn, options: ClickHouseOptions = {}): Promise<Database> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const post = async (sql: string): Promise<string> => {
    const { url, headers } = endpoint(dsn);
    let res: Response;
    try {
      const deadline = AbortSignal.timeout(timeoutMs);
      res = await fetchWithoutRedirects(url, {
        method: 'POST',
        body: sql,
        headers,
        signal: options.signal ? AbortSignal.any([deadline, options.signal]) : deadline,
      });
    } catch (err) {
      // fetch says only `fetch failed`; what failed (ECONNREFUSED, ENOTFOUND, bad port…) is its cause.
      const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
      throw new DbError(`${dsn.display}: ${(err as Error).message}${why ? ` (${why})` : ''}`);
    }
    const body = await res.text();
    if (!res.ok) throw new DbError(`${dsn.display}: ${body.trim().slice(0, 500)}`);
    return body;
  };
  const query = async <T>(sql: string, params?: readonly DbParam[]): Promise<T[]> => {
    const body = await post(`${inline(sql, params)} FORMAT JSONEachRow`);
    return body
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as T);
  };
  try {
    await post('SELECT 1');
  } catch (err) {
    throw new DsnError(`cannot connect to ${dsn.display}: ${(err as Error).message}`);
  }
  const qualified = (t: { schema: string; name: string }) => `${quoteClickHouseIdent(t.schema)}.${quoteClickHouseIdent(t.name)}`;
  return {
    engine: 'clickhouse',
    dsn,
    query,
    async execute(sql, params) {
      await post(inline(sql, params));
      return 0;
    },
    quoteIdent: quoteClickHouseIdent,
    qualified,
    async serverVersion() {
      return (await query<{ v: string }>('SELECT version() AS v'))[0]?.v ?? '';
    },
    async listTables() {
      const scope = dsn.database ? 'database = ?' : "database NOT IN ('system')";
      const args = dsn.database ? [dsn.database] : [];
      const tables = await query<{ database: string; name: string; engine: string; partition_key: string; sampling_key: string; primary_key: string }>(
        `SELECT database, name, engine, partition_key, sampling_key, primary_key FROM system.tables
         WHERE ${scope} AND engine NOT IN ('View', 'MaterializedView') AND NOT is_temporary ORDER BY database, name`,
        args,
      );
      const columns = await query<{ database: string; table: string; name: string; type: string }>(
        `SELECT database, table, name, type FROM system.columns WHERE ${scope} ORDER BY database, table`,
        args,
      );
      return tables.map((t): TableInfo => ({
        schema: t.database,
        name: t.name,
        columns: columns.filter((c) => c.database === t.database && c.table === t.name).map((c) => ({ name: c.name, type: c.type.toLowerCase() })),
        primaryKey: t.primary_key ? t.primary_key.split(',').map((s) => s.trim()) : [],
        tableEngine: t.engine,
        partitionKey: t.partition_key,
        samplingKey: t.sampling_key,
      }));
    },
    async sampleColumn(table, column, limit) {
      const col = quoteClickHouseIdent(column);
      const from = qualified(table);
      if (table.samplingKey) {
        // SAMPLE n reads about n rows spread over the sampling key, without sorting the table.
        const sampled = await query<{ v: unknown }>(`SELECT ${col} AS v FROM ${from} SAMPLE ${limit * 10} WHERE ${col} IS NOT NULL LIMIT ${limit}`);
        if (sampled.length >= limit) return sampled.map((r) => r.v);
      }
      return (await query<{ v: unknown }>(`SELECT ${col} AS v FROM ${from} WHERE ${col} IS NOT NULL ORDER BY rand() LIMIT ${limit}`)).map((r) => r.v);
    },
    async close() {},
  };
}

/**
 * The non-empty lines of one SELECT's JSONEachRow answer, read as they arrive (never buffered whole), over
 * GET, which ClickHouse runs read-only. Bounded by `signal` alone; leaving early aborts the request.
 */
export async function* clickHouseLines(dsn: Dsn, select: string, signal: AbortSignal | undefined): AsyncGenerator<string> {
  const { url, headers } = endpoint(dsn);
  url.searchParams.set('query', `${select} FORMAT JSONEachRow`);
  const abort = new AbortController();
  try {
    const res = await fetchWithoutRedirects(url, { headers, signal: signal ? AbortSignal.any([abort.signal, signal]) : abort.signal });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${(await res.text()).trim().slice(0, 300)}`);
    const decoder = new StringDecoder('utf8');
    let pending = '';
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      pending += decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      let start = 0;
      for (let nl = pending.indexOf('\n', start); nl !== -1; nl = pending.indexOf('\n', start)) {
        const line = pending.slice(start, nl);
        start = nl + 1;
        if (line) yield line;
      }
      pending = pending.slice(start);
    }
  } finally {
    abort.abort();
  }
}
