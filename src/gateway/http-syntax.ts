/** HTTP/1.1 wire rules both sides of the gateway keep: its server facing clients, and its client facing upstreams. */

/** What a header value or reason phrase may hold on the wire (RFC 9110 §5.5); anything else could split the head. */
export const UNSAFE_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** A Transfer-Encoding whose last coding is chunked. */
export const FINAL_CHUNKED = /(?:^|,)[\t ]*chunked[\t ]*$/i;
/** A Transfer-Encoding of chunked alone: the only one the gateway takes (as nginx does). */
export const ONLY_CHUNKED = /^[\t ]*chunked[\t ]*$/i;

/** Fields that describe one connection, not the message: never passed on (RFC 9110 §7.6.1). */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The field names a Connection header lists: hop-by-hop for this message too (RFC 9110 §7.6.1). */
export function connectionTokens(value: string): string[] {
  return value
    .toLowerCase()
    .split(',')
    .map((t) => t.trim());
}

/**
 * A request field name as CGI/WSGI-style upstreams read it: `X_Api_Key` and `X-Api-Key` both reach such an
 * application as HTTP_X_API_KEY, so a check on one spelling must cover the other.
 */
export function canonicalFieldName(name: string): string {
  return name.includes('_') ? name.replace(/_/g, '-') : name;
}
