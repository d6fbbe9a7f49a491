/** Gateway metrics in the Prometheus text exposition format (version 0.0.4). */

const BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

class Histogram {
  readonly counts = new Array<number>(BUCKETS_SECONDS.length).fill(0);
  sum = 0;
  count = 0;
  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < BUCKETS_SECONDS.length; i++) if (seconds <= BUCKETS_SECONDS[i]!) this.counts[i]!++;
  }
}

/** Every counter as plain data: what a `--workers` process sends so one listener can report them all. */
export interface MetricsSnapshot {
  requests: Array<[string, number]>;
  denials: Array<[string, number]>;
  durations: Array<[string, { counts: number[]; sum: number; count: number }]>;
  responseBytes: Array<[string, number]>;
  reloads: number;
  reloadFailures: number;
  inflight: number;
}

export class GatewayMetrics {
  private readonly requests = new Map<string, number>();
  private readonly denials = new Map<string, number>();
  private readonly durations = new Map<string, Histogram>();
  private readonly responseBytes = new Map<string, number>();
  reloads = 0;
  reloadFailures = 0;
  inflight = 0;

  record(route: string | null, status: number, reason: string | undefined, seconds: number, bytes: number): void {
    const r = route ?? '';
    const key = `${r}\u0000${Math.floor(status / 100)}xx`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    if (reason) {
      const dk = `${r}\u0000${reason}`;
      this.denials.set(dk, (this.denials.get(dk) ?? 0) + 1);
    }
    let h = this.durations.get(r);
    if (!h) this.durations.set(r, (h = new Histogram()));
    h.observe(seconds);
    this.responseBytes.set(r, (this.responseBytes.get(r) ?? 0) + bytes);
  }

  snapshot(): MetricsSnapshot {
    return {
      requests: [...this.requests],
      denials: [...this.denials],
      durations: [...this.durations].map(([route, h]) => [route, { counts: [...h.counts], sum: h.sum, count: h.count }]),
      responseBytes: [...this.responseBytes],
      reloads: this.reloads,
      reloadFailures: this.reloadFailures,
      inflight: this.inflight,
    };
  }

  /** These counters plus each snapshot's, summed (a reload counts once per process). */
  static combined(snapshots: readonly MetricsSnapshot[]): GatewayMetrics {
    const all = new GatewayMetrics();
    const add = (map: Map<string, number>, entries: Array<[string, number]>) => {
      for (const [k, n] of entries) map.set(k, (map.get(k) ?? 0) + n);
    };
    for (const s of snapshots) {
      add(all.requests, s.requests);
      add(all.denials, s.denials);
      add(all.responseBytes, s.responseBytes);
      for (const [route, h] of s.durations) {
        let mine = all.durations.get(route);
        if (!mine) all.durations.set(route, (mine = new Histogram()));
        h.counts.forEach((n, i) => (mine.counts[i]! += n));
        mine.sum += h.sum;
        mine.count += h.count;
      }
      all.reloads += s.reloads;
      all.reloadFailures += s.reloadFailures;
      all.inflight += s.inflight;
    }
    return all;
  }

  render(): string {
    const lines: string[] = [];
    lines.push('# HELP warden_gateway_requests_total Requests handled, by route and status class.', '# TYPE warden_gateway_requests_total counter');
    for (const [key, n] of this.requests) {
      const [route, code] = key.split('\u0000');
      lines.push(`warden_gateway_requests_total{route="${escapeLabel(route!)}",code="${code}"} ${n}`);
    }
    lines.push(
      '# HELP warden_gateway_refusals_total Requests refused or failed by the gateway, by route and reason.',
      '# TYPE warden_gateway_refusals_total counter',
    );
    for (const [key, n] of this.denials) {
      const [route, reason] = key.split('\u0000');
      lines.push(`warden_gateway_refusals_total{route="${escapeLabel(route!)}",reason="${escapeLabel(reason!)}"} ${n}`);
    }
    lines.push(
      '# HELP warden_gateway_request_duration_seconds Time from request to the end of the response.',
      '# TYPE warden_gateway_request_duration_seconds histogram',
    );
    for (const [route, h] of this.durations) {
      const l = `route="${escapeLabel(route)}"`;
      BUCKETS_SECONDS.forEach((b, i) => lines.push(`warden_gateway_request_duration_seconds_bucket{${l},le="${b}"} ${h.counts[i]}`));
      lines.push(`warden_gateway_request_duration_seconds_bucket{${l},le="+Inf"} ${h.count}`);
      lines.push(`warden_gateway_request_duration_seconds_sum{${l}} ${h.sum}`, `warden_gateway_request_duration_seconds_count{${l}} ${h.count}`);
    }
    lines.push('# HELP warden_gateway_response_bytes_total Response body bytes sent, by route.', '# TYPE warden_gateway_response_bytes_total counter');
    for (const [route, n] of this.responseBytes) lines.push(`warden_gateway_response_bytes_total{route="${escapeLabel(route)}"} ${n}`);
    lines.push(
      '# HELP warden_gateway_inflight_requests Requests being proxied now.',
      '# TYPE warden_gateway_inflight_requests gauge',
      `warden_gateway_inflight_requests ${this.inflight}`,
    );
    lines.push('# HELP warden_gateway_config_reloads_total Configuration reloads, by result.', '# TYPE warden_gateway_config_reloads_total counter');
    lines.push(
      `warden_gateway_config_reloads_total{result="ok"} ${this.reloads}`,
      `warden_gateway_config_reloads_total{result="failed"} ${this.reloadFailures}`,
    );
    return `${lines.join('\n')}\n`;
  }
}
