// The shipped profiles as data: each loads and validates, and the paths the issue names are classified
// so a policy can allow inference without model or engine administration.
import assert from 'node:assert/strict';
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
