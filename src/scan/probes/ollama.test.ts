// Ollama is not packaged by Debian: these tests run against test/servers/ollama.ts, written from Ollama's
// documented REST API. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestOllama } from '../../../test/servers/ollama.js';
import { ollamaProbe } from './ollama.js';

const models = [
  { name: 'llama3.2:latest', size: 2_019_393_189, parameterSize: '3.2B', quantization: 'Q4_K_M' },
  { name: 'qwen2.5-coder:32b', size: 19_851_349_856, parameterSize: '32.8B', quantization: 'Q4_K_M' },
];

describe('ollama probe', () => {
  let open: TestApi;
  let proxied: TestApi;
  before(async () => {
    open = await startTestOllama({ mode: 'open', models, port: 21434 });
    proxied = await startTestOllama({ mode: 'locked', models });
  });
  after(async () => {
    await Promise.all([open?.close(), proxied?.close()]);
  });

  it('fingerprints Ollama by its banner and version on a non-default port', async () => {
    assert.deepEqual(await ollamaProbe.fingerprint(probeContext(open.port)), { service: 'ollama', version: '0.5.7' });
  });

  it('reports an open Ollama as high with its models and sizes, by listing only', async () => {
    const ctx = probeContext(open.port, { maxLevel: 'sample', sample: 5 });
    const a = await ollamaProbe.assess(ctx, (await ollamaProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.ok(a.evidence.notes.includes('2 model(s) served, 21.9 GB in total'), a.evidence.notes.join('\n'));
    assert.ok(a.evidence.notes.includes('model qwen2.5-coder:32b (19.9 GB, 32.8B parameters, Q4_K_M)'));
    assert.equal(a.reproduce, 'curl -s http://127.0.0.1:21434/api/tags');
    assert.deepEqual(
      open.requests.filter((r) => !r.startsWith('GET ') || /generate|chat|embed|pull|push|create|delete|copy/.test(r)),
      [],
    );
  });

  it('reports an Ollama behind an authenticating proxy as requiring authentication', async () => {
    const ctx = probeContext(proxied.port);
    const fp = await ollamaProbe.fingerprint(ctx);
    assert.deepEqual(fp, { service: 'ollama', details: { authRequired: true } });
    const a = await ollamaProbe.assess(ctx, fp!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
  });

  itFindsNothingOnHostilePeers(ollamaProbe, () => startTestOllama({ mode: 'garbage' }));
});
