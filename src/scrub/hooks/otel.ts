import { isSensitiveFieldName } from '../fields.js';
import { createValueScrubber, type HookOptions, type ValueScrubber } from './values.js';

/** Attribute maps as OpenTelemetry holds them: plain objects of primitives, arrays, or (log records) nested maps. */
export type Attributes = Record<string, unknown>;

/** Attribute keys whose values are URLs: credentials hide in userinfo and query parameters. */
const URL_KEYS = new Set(['http.url', 'url.full', 'url.original', 'http.target', 'url.path', 'server.url']);
/** Attribute keys whose values are SQL or query text. */
const STATEMENT_KEYS = new Set(['db.statement', 'db.query.text']);
/** Connection strings: `Password=…;` or `user:pass@host`. */
const CONNECTION_KEYS = new Set(['db.connection_string']);
/** Query parameters that carry credentials although their names are generic (Google `key`, signed-URL signatures). */
const URL_SECRET_PARAMS = new Set(['key', 'sig', 'signature', 'x-amz-signature', 'x-amz-credential', 'x-goog-signature', 'x-goog-credential', 'code']);
/** `http.request.header.authorization` and friends (semantic conventions put the header name last). */
const HEADER_KEY = /^(?:http|rpc\.grpc|rpc)\.(?:request|response)\.(?:header|metadata)\.(.+)$/;

const SQL_SECRET = /\b(IDENTIFIED(?:\s+WITH\s+\w{1,40})?\s+BY|PASSWORD)(\s*=?\s*)'((?:[^'\\]|\\.|''){0,4096})'/gi;
const CONNECTION_SECRET = /\b(password|pwd)(\s*=\s*)([^;]{1,4096})/gi;
const URL_USERINFO = /^([a-z][a-z0-9+.-]{0,30}:\/\/[^/@:\s]{0,256}:)([^/@\s]{1,1024})@/i;

export interface OtelScrubber {
  /** A scrubbed copy of a span's or log record's attribute map. */
  attributes(attributes: Attributes): Attributes;
  /** Scrubs a log record in place (`body` and `attributes`), as an SDK LogRecordProcessor's `onEmit` may. */
  logRecord<T extends { body?: unknown; attributes?: Attributes }>(record: T): T;
  /** Scrubs a span in place (`attributes` and each event's `attributes`), as a SpanProcessor's `onEnd` may. */
  span<T extends { attributes?: Attributes; events?: Array<{ attributes?: Attributes }> }>(span: T): T;
}

/**
 * Scrubs what request tracing records: header attributes, URLs (`http.url`, `url.full`), SQL
 * (`db.statement`, `db.query.text`) and any string attribute a pattern rule matches. Takes plain
 * attribute objects, so it needs no OpenTelemetry package.
 */
export function createOtelScrubber(options: HookOptions = {}): OtelScrubber {
  const values = createValueScrubber(options);
  const attributes = (attrs: Attributes): Attributes => {
    const out: Attributes = {};
    for (const [key, value] of Object.entries(attrs)) out[key] = scrubAttribute(key, value, values);
    return out;
  };
  const replaceIn = (target: Attributes) => {
    for (const [key, value] of Object.entries(attributes(target))) target[key] = value;
  };
  return {
    attributes,
    logRecord(record) {
      if (record.body !== undefined) record.body = values.value(record.body);
      if (record.attributes) replaceIn(record.attributes);
      return record;
    },
    span(span) {
      if (span.attributes) replaceIn(span.attributes);
      for (const event of span.events ?? []) if (event.attributes) replaceIn(event.attributes);
      return span;
    },
  };
}

/**
 * An object that is both an SDK SpanProcessor and a LogRecordProcessor: add it before the exporter's
 * processor so spans and log records are scrubbed before they are exported.
 */
export function createOtelScrubProcessor(options: HookOptions = {}) {
  const scrubber = createOtelScrubber(options);
  return {
    onStart(): void {},
    onEnd(span: { attributes?: Attributes; events?: Array<{ attributes?: Attributes }> }): void {
      scrubber.span(span);
    },
    onEmit(record: { body?: unknown; attributes?: Attributes }): void {
      scrubber.logRecord(record);
    },
    forceFlush: (): Promise<void> => Promise.resolve(),
    shutdown: (): Promise<void> => Promise.resolve(),
  };
}

function scrubAttribute(key: string, value: unknown, values: ValueScrubber): unknown {
  const lower = key.toLowerCase();
  const header = HEADER_KEY.exec(lower);
  const lastSegment = lower.slice(lower.lastIndexOf('.') + 1);
  if ((header && isSensitiveFieldName(header[1]!)) || isSensitiveFieldName(lastSegment) || isSensitiveFieldName(lower.replace(/\./g, '_')))
    return values.field(value);
  const eachString = (fn: (s: string) => string): unknown =>
    typeof value === 'string' ? fn(value) : Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? fn(v) : v)) : values.value(value);
  // `url.query` holds the query without its `?`.
  if (lower === 'url.query') return eachString((s) => values.text(scrubUrl(`?${s}`, values).slice(1)));
  if (URL_KEYS.has(lower)) return eachString((s) => values.text(scrubUrl(s, values)));
  if (STATEMENT_KEYS.has(lower))
    return eachString((s) =>
      values.text(s.replace(SQL_SECRET, (_, verb: string, gap: string, secret: string) => `${verb}${gap}'${values.field(secret) as string}'`)),
    );
  if (CONNECTION_KEYS.has(lower))
    return eachString((s) =>
      values.text(
        scrubUrl(s, values).replace(CONNECTION_SECRET, (_, name: string, gap: string, secret: string) => `${name}${gap}${values.field(secret) as string}`),
      ),
    );
  return values.value(value);
}

/** Masks a URL's password and the values of credential query parameters, keeping everything else as written. */
function scrubUrl(url: string, values: ValueScrubber): string {
  const withoutPassword = url.replace(URL_USERINFO, (_, head: string, password: string) => `${head}${values.field(password) as string}@`);
  const q = withoutPassword.indexOf('?');
  if (q === -1) return withoutPassword;
  const hash = withoutPassword.indexOf('#', q);
  const query = withoutPassword.slice(q + 1, hash === -1 ? undefined : hash);
  const scrubbed = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      let name: string;
      try {
        name = decodeURIComponent(pair.slice(0, eq).replace(/\+/g, ' '));
      } catch {
        name = pair.slice(0, eq);
      }
      const secret = isSensitiveFieldName(name) || URL_SECRET_PARAMS.has(name.toLowerCase());
      return secret && eq < pair.length - 1 ? `${pair.slice(0, eq + 1)}${values.field(pair.slice(eq + 1)) as string}` : pair;
    })
    .join('&');
  return withoutPassword.slice(0, q + 1) + scrubbed + (hash === -1 ? '' : withoutPassword.slice(hash));
}
