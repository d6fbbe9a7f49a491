/**
 * The route table Warden's HTTP servers share (keys API, serve API and dashboard, scrub ingest): each
 * route says its method, its path and who may call it, so a server checks `auth` in front of every
 * handler and its tests can walk the table to prove each route refuses an unauthenticated request.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Route<Auth, Handler> {
  method: HttpMethod;
  /**
   * A literal path, segments `:name` matching one segment (`[^/]+`, still percent-encoded), or `*`
   * for every path.
   */
  path: string;
  /** What a request must prove before `handle` runs; each server defines its kinds. */
  auth: Auth;
  /** Narrower shapes for some `:name` segments; a segment that does not fit is not this route. */
  params?: Readonly<Record<string, RegExp>>;
  handle: Handler;
}

export interface RouteMatch<R> {
  route: R;
  /** The `:name` segments as sent (not decoded: decode after authentication). */
  params: Record<string, string>;
}

interface Compiled<R> {
  route: R;
  pattern: RegExp | null;
  names: string[];
}

/** Routes tried in order; the first whose method and path fit answers. */
export class RouteTable<R extends Route<unknown, unknown>> {
  private readonly compiled: Compiled<R>[];

  constructor(readonly routes: readonly R[]) {
    this.compiled = routes.map((route) => {
      if (route.path === '*') return { route, pattern: null, names: [] };
      const names: string[] = [];
      const source = route.path
        .split('/')
        .map((segment) => {
          if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          names.push(segment.slice(1));
          return '([^/]+)';
        })
        .join('/');
      return { route, pattern: new RegExp(`^${source}$`), names };
    });
  }

  /**
   * The route for this request; `'method'` when a route has this path but none this method (the
   * server decides between 404 and 405), undefined when no route has the path.
   */
  match(method: string, path: string): RouteMatch<R> | 'method' | undefined {
    let pathKnown = false;
    for (const { route, pattern, names } of this.compiled) {
      const params = paramsOf(route, pattern, names, path);
      if (!params) continue;
      if (route.method === method) return { route, params };
      pathKnown = true;
    }
    return pathKnown ? 'method' : undefined;
  }
}

function paramsOf(route: Route<unknown, unknown>, pattern: RegExp | null, names: string[], path: string): Record<string, string> | undefined {
  if (!pattern) return {};
  const m = pattern.exec(path);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const value = m[i + 1]!;
    if (route.params?.[name] && !route.params[name].test(value)) return undefined;
    params[name] = value;
  }
  return params;
}
