// The shipped profiles as data: each loads and validates, and the paths the issue names are classified
// so a policy can allow inference without model or engine administration.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { isAmbiguousPath, loadProfile, matchEndpoint, SHIPPED_PROFILES } from './profiles.js';

const classOf = (kind: string, method: string, path: string) => {
  const m = matchEndpoint(loadProfile(kind), method, path);
  return m === null ? 'unnamed' : 'wrongMethod' in m ? 'wrong-method' : m.endpoint.class;
};

it('loads every shipped profile with unique endpoint names', () => {
  for (const kind of SHIPPED_PROFILES) {
    const p = loadProfile(kind);
    assert.equal(p.kind, kind);
    const names = p.endpoints.map((e) => e.name);
    assert.equal(new Set(names).size, names.length, kind);
  }
});

it('separates inference from administration on vLLM and Ollama, and reads from SQL writes on ClickHouse', () => {
  assert.equal(classOf('vllm', 'POST', '/v1/chat/completions'), 'inference');
  assert.equal(classOf('vllm', 'POST', '/invocations'), 'inference');
  for (const path of ['/sleep', '/collective_rpc', '/wake_up', '/reset_prefix_cache']) assert.equal(classOf('vllm', 'POST', path), 'administration', path);
  assert.equal(classOf('vllm', 'POST', '/v1/unheard_of'), 'unnamed');
  assert.equal(classOf('ollama', 'POST', '/api/chat'), 'inference');
  for (const path of ['/api/pull', '/api/create']) assert.equal(classOf('ollama', 'POST', path), 'administration', path);
  assert.equal(classOf('ollama', 'DELETE', '/api/delete'), 'administration');
  assert.equal(classOf('ollama', 'GET', '/api/delete'), 'wrong-method');
  assert.equal(classOf('clickhouse', 'GET', '/'), 'read');
  assert.equal(classOf('clickhouse', 'POST', '/'), 'write');
  assert.equal(classOf('clickhouse', 'GET', '/play'), 'administration');
  assert.equal(classOf('prometheus', 'POST', '/api/v1/admin/tsdb/delete_series'), 'administration');
  assert.equal(classOf('prometheus', 'GET', '/api/v1/label/job/values'), 'read');
});

it('refuses paths an upstream could read two ways', () => {
  for (const p of ['/v1/../invocations', '/v1/./x', '//x', '/v1%2F..%2Finvocations', '/a\\b', '/%2e%2e/x', 'v1']) assert.ok(isAmbiguousPath(p), p);
  for (const p of ['/', '/v1/chat/completions', '/api/v1/query', '/a.b/c..d']) assert.ok(!isAmbiguousPath(p), p);
});

// Java servers strip `;params` from a segment before resolving it, and lenient decoders read the overlong
// `%c0%ae` as a dot; a second decoding upstream turns `%252e` into a dot too.
it('refuses dot segments with path parameters, overlong UTF-8, double encoding and encoded control characters', () => {
  for (const p of [
    '/v1/..;/invocations',
    '/v1/.;x/y',
    '/v1/..;jsessionid=1/admin',
    '/%c0%ae%c0%ae/admin',
    '/v1/%c0%af',
    '/a/%252e%252e/b',
    '/a/%25%32%65',
    '/v1/%0d%0aX',
    '/v1/%7f',
    '/v1/%E0%A4%A',
  ])
    assert.ok(isAmbiguousPath(p), p);
  for (const p of ['/api/dashboards/uid/caf%C3%A9', '/v1/models/a;b', '/v1/..x/y', '/v1/.well-known']) assert.ok(!isAmbiguousPath(p), p);
});

it('names the methods of every endpoint: a profile endpoint without them does not load, and vLLM /v1/responses takes only its own', () => {
  for (const kind of SHIPPED_PROFILES) for (const e of loadProfile(kind).endpoints) assert.ok(e.methods.length > 0, `${kind} ${e.name}`);
  const dir = mkdtempSync(join(tmpdir(), 'warden-profile-'));
  try {
    const file = join(dir, 'no-methods.yaml');
    writeFileSync(file, 'kind: no-methods\nendpoints:\n  - { name: all, path: /*, class: read }\n');
    assert.throws(() => loadProfile(file), /methods/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(classOf('vllm', 'POST', '/v1/responses'), 'inference');
  assert.equal(classOf('vllm', 'GET', '/v1/responses/resp_1'), 'read');
  for (const method of ['PUT', 'PATCH', 'DELETE', 'TRACE']) assert.equal(classOf('vllm', method, '/v1/responses'), 'wrong-method', method);
  assert.equal(classOf('openai-compatible', 'DELETE', '/v1/responses/resp_1'), 'administration');
  assert.equal(classOf('grafana', 'DELETE', '/api/user/stars/dashboard/1'), 'write');
});
