/** /metrics in the Prometheus text exposition format (version 0.0.4). */
import type { AuthFailures } from './auth-failures.js';
import type { ServeHistory } from './history.js';

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (pairs: Record<string, string>) =>
  `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${label(v)}"`)
    .join(',')}}`;

export async function renderMetrics(history: ServeHistory, inventories: readonly string[], authFailures: AuthFailures): Promise<string> {
  const m = await history.metrics();
  const out: string[] = [];
  const family = (name: string, type: string, help: string, rows: Array<[Record<string, string>, number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of rows) out.push(`${name}${labels(l)} ${v}`);
  };
  family(
    'warden_serve_open_findings',
    'gauge',
    'Open findings, suppressed ones excluded.',
    m.open.map((r) => [{ inventory: r.inventory, severity: r.severity, service: r.service }, r.n]),
  );
  family(
    'warden_serve_runs_total',
    'counter',
    'Runs by inventory and outcome (running, succeeded, partial, failed, interrupted).',
    m.runs.map((r) => [{ inventory: r.inventory, status: r.status }, r.n]),
  );
  const last = new Map(m.last.map((r) => [r.inventory, r]));
  const known = inventories.filter((i) => last.has(i));
  family(
    'warden_serve_last_run_duration_seconds',
    'gauge',
    'Duration of the last successful run.',
    known.map((i) => [{ inventory: i }, (last.get(i)!.lastDurationMs ?? 0) / 1000]),
  );
  family(
    'warden_serve_last_success_timestamp_seconds',
    'gauge',
    'When the last successful run finished (Unix time).',
    known.map((i) => [{ inventory: i }, Math.floor((last.get(i)!.lastSuccess ?? 0) / 1000)]),
  );
  family(
    'warden_serve_auth_failures_total',
    'counter',
    'Failed authentications since start, by way (login, bearer) and reason; throttled counts requests refused by the per-address limit.',
    authFailures.rows(),
  );
  return out.join('\n') + '\n';
}
