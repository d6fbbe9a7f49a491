/**
 * The one way Warden calls fetch: no redirect is ever followed. fetch follows them by default and keeps
 * custom headers (X-ClickHouse-Key, a webhook signature) on the way to another origin, so a look-alike
 * server could send a request, credentials and all, anywhere it likes. A 3xx is an error value instead.
 */
import { WardenError } from './errors.js';

export class RedirectRefusedError extends WardenError {
  constructor(
    readonly status: number,
    /** The origin the answer pointed to (never its path or user info), or null when it named none. */
    readonly target: string | null,
  ) {
    super(`redirect refused: HTTP ${status}${target ? ` to ${target}` : ''}`, 'REDIRECT_REFUSED', 3);
    this.name = 'RedirectRefusedError';
  }
}

function originOf(location: string | null, base: string | URL): string | null {
  if (!location) return null;
  try {
    return new URL(location, base).origin;
  } catch {
    return null;
  }
}

/** fetch with `redirect: 'manual'`; a 3xx answer throws RedirectRefusedError (its body discarded). */
export async function fetchWithoutRedirects(url: string | URL, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, { ...init, redirect: 'manual' });
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel().catch(() => undefined);
    throw new RedirectRefusedError(res.status, originOf(res.headers.get('location'), url));
  }
  return res;
}
