// Walks a server's route table in its tests: every route that needs proof gets a request without it.
import type { Route } from '../../src/http-routes.js';

/** A concrete path for a route, with `samples[name]` (default `x`) in each `:name` segment. */
export function examplePath(route: Route<unknown, unknown>, samples: Readonly<Record<string, string>> = {}): string {
  if (route.path === '*') return '/';
  return route.path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? encodeURIComponent(samples[segment.slice(1)] ?? 'x') : segment))
    .join('/');
}
