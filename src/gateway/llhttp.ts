/**
 * Node's own HTTP/1.1 parser (lib/_http_common.js, a binding to llhttp), which both sides of the
 * gateway read HTTP with: the client-facing server (server.ts) and the upstream client (upstream.ts).
 * It is the parser node:http runs, with its strict defaults: conflicting lengths, bad chunk sizes,
 * invalid header bytes and oversized heads are errors.
 */
import { createRequire } from 'node:module';
import { WardenError } from '../errors.js';

/** The slice of Node's HTTPParser the gateway uses. */
export interface LlhttpParser {
  /** maxHeaderSize 0: Node's limit (--max-http-header-size, 16 KB by default). */
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  /** Bytes parsed, or an Error whose `code` names the llhttp error (HPE_…). */
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  /** Reads a socket's handle directly (node:http's fast path): no 'data' events, results through kOnExecute. */
  consume(handle: object): void;
  unconsume(): void;
  /** A copy of the bytes being parsed, for what follows an upgrade's head. */
  getCurrentBuffer(): Buffer;
  close(): void;
  [callback: number]: unknown;
}
export interface LlhttpParserClass {
  new (): LlhttpParser;
  REQUEST: number;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kLenientNone: number;
}
export interface Llhttp {
  HTTPParser: LlhttpParserClass;
  /** Request methods by the index llhttp reports them with. */
  methods: readonly string[];
}

/**
 * From the undocumented `_http_common` module (node:http's own; MSW's interceptors use it too). Node
 * plans to deprecate that module's exports; if one day they are gone, the gateway says so when it
 * starts rather than failing on a request.
 */
function load(): Llhttp {
  let common: Partial<Llhttp> | undefined;
  try {
    common = createRequire(import.meta.url)('_http_common') as Partial<Llhttp>;
  } catch {
    // handled below
  }
  if (typeof common?.HTTPParser !== 'function' || !Array.isArray(common.methods))
    throw new WardenError(`Node.js ${process.version} does not expose its HTTP parser (_http_common.HTTPParser)`, 'GATEWAY_NO_HTTP_PARSER', 3);
  return { HTTPParser: common.HTTPParser, methods: common.methods };
}
let loaded: Llhttp | undefined;

/** The parser, once `llhttpUnavailable()` has said it loads. */
export function llhttp(): Llhttp {
  return (loaded ??= load());
}

/**
 * Why the parser cannot be used, or null: the gateway asks as it starts, so a Node without it is found then,
 * not on a request. WARDEN_GATEWAY_NO_LLHTTP=1 makes it unavailable, to test the fallback to node:http.
 */
export function llhttpUnavailable(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.WARDEN_GATEWAY_NO_LLHTTP === '1') return `WARDEN_GATEWAY_NO_LLHTTP=1 hides Node's HTTP parser (_http_common.HTTPParser)`;
  try {
    llhttp();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
