// The registry tries every probe on every open port, so a fingerprint must claim its own service and nothing
// else. Each test server of the service probes (open or locked, as documented in test/servers/), and the machine's
// real RabbitMQ, NATS and Mosquitto, is shown to every shipped probe; exactly one may claim it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { startTestChroma } from '../../../test/servers/chroma.js';
import { startTestDocker } from '../../../test/servers/docker.js';
import { startTestGrafana } from '../../../test/servers/grafana.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestJupyter } from '../../../test/servers/jupyter.js';
import { startTestKubernetes } from '../../../test/servers/kubernetes.js';
import { startTestMilvus } from '../../../test/servers/milvus.js';
import { startTestMlflow } from '../../../test/servers/mlflow.js';
import { startTestOllama } from '../../../test/servers/ollama.js';
import { startTestModelServer } from '../../../test/servers/openai-compatible.js';
import { startTestQdrant } from '../../../test/servers/qdrant.js';
import { startTestRabbitManagement } from '../../../test/servers/rabbitmq-management.js';
import { startTestRay } from '../../../test/servers/ray.js';
import { startTestTorchServe } from '../../../test/servers/torchserve.js';
import { startTestWeaviate } from '../../../test/servers/weaviate.js';
import { loadProbes } from '../registry.js';

const servers: Array<[string, () => Promise<TestApi>]> = [
  ['chroma', () => startTestChroma({ mode: 'open' })],
  ['chroma', () => startTestChroma({ mode: 'locked' })],
  ['docker', () => startTestDocker({ mode: 'open' })],
  ['docker', () => startTestDocker({ mode: 'locked' })],
  ['grafana', () => startTestGrafana({ mode: 'open' })],
  ['jupyter', () => startTestJupyter({ mode: 'open' })],
  ['jupyter', () => startTestJupyter({ mode: 'locked' })],
  ['kubernetes', () => startTestKubernetes({ mode: 'open', role: 'apiserver' })],
  ['kubernetes', () => startTestKubernetes({ mode: 'locked', role: 'apiserver' })],
  ['kubelet', () => startTestKubernetes({ mode: 'open', role: 'kubelet' })],
  ['kubelet', () => startTestKubernetes({ mode: 'anonymous-denied', role: 'kubelet' })],
  ['milvus', () => startTestMilvus({ mode: 'open' })],
  ['milvus', () => startTestMilvus({ mode: 'locked' })],
  ['mlflow', () => startTestMlflow({ mode: 'open' })],
  ['mlflow', () => startTestMlflow({ mode: 'locked' })],
  ['ollama', () => startTestOllama({ mode: 'open' })],
  ['ollama', () => startTestOllama({ mode: 'locked' })],
  ['openai-compatible', () => startTestModelServer({ mode: 'open', flavour: 'vllm', devMode: true })],
  ['openai-compatible', () => startTestModelServer({ mode: 'locked', flavour: 'vllm' })],
  ['openai-compatible', () => startTestModelServer({ mode: 'open', flavour: 'llamacpp' })],
  ['openai-compatible', () => startTestModelServer({ mode: 'locked', flavour: 'llamacpp' })],
  ['qdrant', () => startTestQdrant({ mode: 'open' })],
  ['qdrant', () => startTestQdrant({ mode: 'locked' })],
  ['rabbitmq', () => startTestRabbitManagement({ mode: 'locked' })],
  ['ray', () => startTestRay({ mode: 'open' })],
  ['torchserve', () => startTestTorchServe({ mode: 'open' })],
  ['torchserve', () => startTestTorchServe({ mode: 'locked' })],
  ['weaviate', () => startTestWeaviate({ mode: 'open' })],
  ['weaviate', () => startTestWeaviate({ mode: 'locked' })],
];

/** The brokers the machine runs (see CONTRIBUTING.md, Running). */
const realBrokers: Array<[string, number]> = [
  ['rabbitmq', 5672],
  ['nats', 4222],
  ['mqtt', 1883],
];

async function claimants(port: number): Promise<string[]> {
  const claimed: string[] = [];
  for (const probe of await loadProbes()) {
    if (await probe.fingerprint(probeContext(port, { timeoutMs: 800 }))) claimed.push(probe.service);
  }
  return claimed;
}

describe('service probe fingerprints are specific', { timeout: 120_000 }, () => {
  for (const [service, port] of realBrokers) {
    it(`only the ${service} probe claims the real broker on ${port}`, async () => assert.deepEqual(await claimants(port), [service]));
  }
  for (const [service, start] of servers) {
    it(`only the ${service} probe claims ${start.toString().match(/\{ (mode: '[^']+'[^}]*)\}/)?.[1] ?? 'its server'}`, async () => {
      const server = await start();
      try {
        assert.deepEqual(await claimants(server.port), [service]);
      } finally {
        await server.close();
      }
    });
  }
});
