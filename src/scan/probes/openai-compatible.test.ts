// vLLM and llama.cpp's server are not packaged by Debian: these tests run against
// test/servers/openai-compatible.ts, written from the projects' documented HTTP APIs, and against the Ollama
// test server (which also serves /v1/models). Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestOllama } from '../../../test/servers/ollama.js';
import { startTestModelServer } from '../../../test/servers/openai-compatible.js';
import { openaiCompatibleProbe } from './openai-compatible.js';

const onlyReads = (server: TestApi) => server.requests.filter((r) => !r.startsWith('GET ') || /completions|chat|embeddings/.test(r));

describe('openai-compatible probe', () => {
  let vllmOpen: TestApi;
  let vllmKeyed: TestApi;
  let vllmKeyedPlain: TestApi;
  let llamaOpen: TestApi;
  let llamaKeyed: TestApi;
  before(async () => {
    vllmOpen = await startTestModelServer({ mode: 'open', flavour: 'vllm', devMode: true, port: 18000 });
    vllmKeyed = await startTestModelServer({ mode: 'locked', flavour: 'vllm', devMode: true });
    vllmKeyedPlain = await startTestModelServer({ mode: 'locked', flavour: 'vllm' });
    llamaOpen = await startTestModelServer({ mode: 'open', flavour: 'llamacpp' });
    llamaKeyed = await startTestModelServer({ mode: 'locked', flavour: 'llamacpp' });
  });
  after(async () => {
    await Promise.all([vllmOpen, vllmKeyed, vllmKeyedPlain, llamaOpen, llamaKeyed].map((s) => s?.close()));
  });

  it('fingerprints vLLM by its model list and /version on a non-default port', async () => {
    assert.deepEqual(await openaiCompatibleProbe.fingerprint(probeContext(vllmOpen.port)), {
      service: 'openai-compatible',
      version: '0.8.4',
      details: { product: 'vLLM' },
    });
    assert.deepEqual(await openaiCompatibleProbe.fingerprint(probeContext(llamaOpen.port)), {
      service: 'openai-compatible',
      details: { product: 'llama.cpp server' },
    });
  });

  it('leaves Ollama to its own probe', async () => {
    const ollama = await startTestOllama({ mode: 'open', models: [] });
    try {
      assert.equal(await openaiCompatibleProbe.fingerprint(probeContext(ollama.port)), undefined);
    } finally {
      await ollama.close();
    }
  });

  it('reports an open vLLM as high with its models and the control routes it serves, never POSTing', async () => {
    const ctx = probeContext(vllmOpen.port);
    const a = await openaiCompatibleProbe.assess(ctx, (await openaiCompatibleProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.equal(a.title, 'vLLM open without an API key, with /collective_rpc reachable');
    assert.ok(a.evidence.notes.includes('model meta-llama/Llama-3.1-8B-Instruct (context 131072)'), a.evidence.notes.join('\n'));
    assert.ok(
      a.evidence.notes.includes('served without the API key: /invocations, /sleep, /wake_up, /collective_rpc, /reset_prefix_cache, /is_sleeping, /metrics'),
    );
    assert.equal(a.reproduce, 'curl -s http://127.0.0.1:18000/v1/models');
    assert.deepEqual(onlyReads(vllmOpen), []);
  });

  it('reports a vLLM with --api-key as still open when /invocations and the control routes answer without it', async () => {
    const ctx = probeContext(vllmKeyed.port);
    const fp = await openaiCompatibleProbe.fingerprint(ctx);
    assert.deepEqual(fp, { service: 'openai-compatible', version: '0.8.4', details: { product: 'vLLM', authRequired: true } });
    const a = await openaiCompatibleProbe.assess(ctx, fp!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.match(a.title, /requires an API key on \/v1 but serves its control endpoints/);
    assert.match(a.reproduce ?? '', /\/invocations/);
    assert.deepEqual(onlyReads(vllmKeyed), []);
  });

  it('counts a vLLM whose /invocations is its only unguarded inference route as open, and names it', async () => {
    const ctx = probeContext(vllmKeyedPlain.port);
    const a = await openaiCompatibleProbe.assess(ctx, (await openaiCompatibleProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.ok(a.evidence.notes.includes('served without the API key: /invocations, /metrics'));
  });

  it('reports llama.cpp model sizes when open, and auth required when /props needs the key', async () => {
    const open = await openaiCompatibleProbe.assess(probeContext(llamaOpen.port), { service: 'openai-compatible', details: { product: 'llama.cpp server' } });
    assert.equal(open.auth, 'none');
    assert.ok(open.evidence.notes.includes('model qwen2.5-7b-instruct-q4_k_m.gguf (4.7 GB, 7.6B parameters)'));
    const ctx = probeContext(llamaKeyed.port);
    const fp = await openaiCompatibleProbe.fingerprint(ctx);
    assert.equal(fp?.details?.product, 'llama.cpp server');
    const locked = await openaiCompatibleProbe.assess(ctx, fp!);
    assert.equal(locked.auth, 'required');
    assert.equal(locked.severity, 'info');
  });

  itFindsNothingOnHostilePeers(openaiCompatibleProbe, () => startTestModelServer({ mode: 'garbage', flavour: 'vllm' }));
});
