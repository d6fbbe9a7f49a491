/**
 * Why a part of a source could not be read, in words a responder can act on: Node's raw system errors
 * (`connect ECONNREFUSED 127.0.0.1:1`, `ENOENT: no such file or directory, stat '/x'`) become what they
 * mean; a server's own message is kept as it is.
 */

/** System error codes, as drivers and the file system report them, and what each means here. */
const SYSTEM_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'a folder where a file was expected',
  EMFILE: 'too many open files',
  ECONNREFUSED: 'connection refused (nothing listens there)',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed',
  ETIMEDOUT: 'no answer in time',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name could not be resolved',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  Z_DATA_ERROR: 'not valid gzip data',
  Z_BUF_ERROR: 'gzip data cut short',
};

/** The raw tail of a system error in a message: the call, the code, and the address or path after it. */
const RAW_SYSTEM_ERROR =
  /(?:fetch failed \(|\b(?:connect|getaddrinfo|read|write|stat|lstat|open|scandir|opendir) )?\b(E[A-Z]{3,}|EAI_AGAIN|Z_[A-Z]+_ERROR)\b[^]*$/;

/** The message, with what fetch keeps in its cause (`fetch failed` alone says nothing). */
function messageOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  return err.message === 'fetch failed' && why ? `fetch failed (${why})` : err.message;
}

/** A readable reason for an error or an error's text; never longer than 500 characters. */
export function readableError(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = messageOf(err);
  let text = message.replace(RAW_SYSTEM_ERROR, (raw, found: string) => SYSTEM_ERRORS[found] ?? raw);
  // A bare code, as the file system reports some errors in streams.
  if (text === message && typeof code === 'string' && SYSTEM_ERRORS[code]) text = SYSTEM_ERRORS[code];
  text = text.replace(/\bfetch failed\b/, 'the request failed');
  // Drivers wrap each other's messages: `cannot connect to X: X: …` says X once.
  text = text.replace(/(\S+): \1: /g, '$1: ');
  return text.length > 500 ? `${text.slice(0, 499)}…` : text;
}
