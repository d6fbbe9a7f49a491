/**
 * Scopes are `resource:action` strings. A key's scope may use `*` for one whole segment
 * (`*:read`), or end in `*` to cover everything below (`admin:*`, `*`). Requested scopes are literal.
 */
export function scopeAllows(granted: string, requested: string): boolean {
  if (granted === requested || granted === '*') return true;
  const g = granted.split(':');
  const r = requested.split(':');
  for (let i = 0; i < g.length; i++) {
    const seg = g[i]!;
    if (seg === '*' && i === g.length - 1) return r.length >= g.length;
    if (i >= r.length) return false;
    if (seg !== '*' && seg !== r[i]) return false;
  }
  return g.length === r.length;
}

export function scopesAllow(granted: readonly string[], requested: readonly string[]): boolean {
  return requested.every((r) => granted.some((g) => scopeAllows(g, r)));
}

const SCOPE = /^(?:\*|[a-z0-9_.-]+)(?::(?:\*|[a-z0-9_.-]+))*$/;

export function isValidScope(scope: string): boolean {
  return scope.length <= 100 && SCOPE.test(scope);
}
