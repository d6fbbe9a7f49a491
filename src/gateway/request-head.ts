/**
 * What the gateway's client side decides from a request head alone, whichever server read it (the llhttp
 * server in server.ts or node:http in node-server.ts): the header fields as the gateway reads them, and
 * the heads it refuses before anything goes upstream.
 */
import { STATUS_CODES } from 'node:http';
import { FINAL_CHUNKED, ONLY_CHUNKED } from './http-syntax.js';

/**
 * Header fields a request may carry once: two Host lines must be refused (RFC 9112 §3.2), and two credentials
 * leave open who is asking, which another proxy on the path may answer differently from the gateway.
 */
const ONCE_ONLY = new Set(['host', 'authorization']);
/** Header fields of which node:http kept only the first copy; the gateway reads them the same way. */
const FIRST_ONLY = new Set([
  'content-length',
  'content-type',
  'user-agent',
  'proxy-authorization',
  'referer',
  'from',
  'max-forwards',
  'if-modified-since',
  'if-unmodified-since',
  'age',
  'etag',
  'expires',
  'last-modified',
  'location',
  'retry-after',
  'server',
]);

export interface RequestHead {
  /** Header fields in the order sent, names in lower case, duplicates kept: name, value, name, value… */
  fields: string[];
  /** One value per name: the first copy for FIRST_ONLY names, all copies joined with ", " for the rest (ONCE_ONLY names come once). */
  headers: Record<string, string | undefined>;
  /** A body follows the head (chunked, or a length other than 0). */
  hasBody: boolean;
  /** The status to refuse the request with and close, or null. */
  refusal: 400 | 501 | null;
}

/** Reads a request head's fields as sent (any case, duplicates kept) and says whether it must be refused. */
export function readRequestHead(raw: readonly string[], minorVersion: number): RequestHead {
  const fields: string[] = [];
  const headers: Record<string, string | undefined> = Object.create(null) as Record<string, string | undefined>;
  let repeated = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    fields.push(name, value);
    const seen = headers[name];
    if (seen === undefined) headers[name] = value;
    else if (ONCE_ONLY.has(name)) repeated = true;
    else if (!FIRST_ONLY.has(name)) headers[name] = `${seen}, ${value}`;
  }
  const coding = headers['transfer-encoding'];
  const length = headers['content-length'];
  const hasBody = coding !== undefined || (length !== undefined && length !== '0');
  let refusal: RequestHead['refusal'] = null;
  // An HTTP/1.1 request without a Host, or with two, must be refused (RFC 9112 §3.2), as node:http refused the first.
  if (repeated || (minorVersion >= 1 && headers.host === undefined)) refusal = 400;
  // A request body framed by anything but chunked has no knowable end (RFC 9112 §6.1); llhttp would say so
  // only once it reached the body, after this head had gone upstream. Codings before chunked (gzip, chunked)
  // are framed, but the gateway would have to pass them on undecoded: 501, as RFC 9112 §6.1 suggests.
  else if (coding !== undefined && !ONLY_CHUNKED.test(coding)) refusal = FINAL_CHUNKED.test(coding) ? 501 : 400;
  return { fields, headers, hasBody, refusal };
}

/**
 * What a request's `Expect` asks for: `refuse` (417) for anything but 100-continue, `continue` when a
 * 100 Continue is owed before its body (HTTP/1.1 with a body), or null.
 */
export function expectation(headers: RequestHead['headers'], minorVersion: number, hasBody: boolean): 'refuse' | 'continue' | null {
  const expect = headers.expect;
  if (expect === undefined) return null;
  if (expect.toLowerCase() !== '100-continue') return 'refuse';
  return minorVersion >= 1 && hasBody ? 'continue' : null;
}

/** The reason phrase and a JSON body for an error the client side answers itself. */
export function errorAnswer(status: number): { text: string; body: string } {
  const text = STATUS_CODES[status] ?? 'Error';
  return { text, body: JSON.stringify({ error: text.toLowerCase().replace(/ /g, '_') }) };
}

/** A whole error answer, as raw bytes for a socket that closes after it. */
export function closingErrorAnswer(status: number): string {
  const { text, body } = errorAnswer(status);
  return `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
}
