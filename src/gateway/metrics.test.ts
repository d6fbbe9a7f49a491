import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayMetrics } from './metrics.js';

describe('gateway metrics across --workers processes', () => {
  it('sums counters, histograms and gauges from every snapshot', () => {
    const a = new GatewayMetrics();
    const b = new GatewayMetrics();
    a.record('llm', 200, undefined, 0.0004, 100);
    a.record('llm', 401, 'no_credential', 0.002, 0);
    b.record('llm', 200, undefined, 0.3, 50);
    b.record('db', 502, 'upstream_unreachable', 0.01, 0);
    a.reloads = 1;
    b.reloads = 1;
    b.inflight = 3;
    // Through JSON, as the snapshots travel between processes.
    const text = GatewayMetrics.combined([a, b].map((m) => JSON.parse(JSON.stringify(m.snapshot())))).render();
    assert.match(text, /warden_gateway_requests_total\{route="llm",code="2xx"\} 2\n/);
    assert.match(text, /warden_gateway_requests_total\{route="llm",code="4xx"\} 1\n/);
    assert.match(text, /warden_gateway_refusals_total\{route="db",reason="upstream_unreachable"\} 1\n/);
    assert.match(text, /warden_gateway_request_duration_seconds_bucket\{route="llm",le="0.0005"\} 1\n/);
    assert.match(text, /warden_gateway_request_duration_seconds_bucket\{route="llm",le="0.5"\} 3\n/);
    assert.match(text, /warden_gateway_request_duration_seconds_count\{route="llm"\} 3\n/);
    assert.match(text, /warden_gateway_response_bytes_total\{route="llm"\} 150\n/);
    assert.match(text, /warden_gateway_inflight_requests 3\n/);
    assert.match(text, /warden_gateway_config_reloads_total\{result="ok"\} 2\n/);
  });
});
