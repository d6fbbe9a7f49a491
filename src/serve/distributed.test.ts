// Distributed mode on real parts: the machine's NATS JetStream (127.0.0.1:4222, a stream and consumer
// named uniquely per run and deleted after), a scratch PostgreSQL database, real redis-server processes,
// silent TCP listeners that make a shard take seconds, and real `warden worker` child processes, one of
// them killed with SIGKILL in the middle of a shard.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { parseConfig, type ServeConfig } from '../config/index.js';
import { parseKeySecrets } from '../keys/index.js';
import { openStore, type Store } from '../store/index.js';
import { createScratchDatabase, type ScratchDatabase } from '../../test/helpers/scratch-databases.js';
import { freePort } from '../../test/helpers/free-port.js';
import { waitFor } from '../../test/helpers/wait.js';
import { ensureWorkQueue, runWorker, ServeHistory, shardTargets, type ServeDaemon, type ShardMessage } from './index.js';
import { startTestRedis } from '../../test/helpers/redis.js';
import { startTestServe } from '../../test/helpers/serve.js';

const NATS_URL = process.env.WARDEN_TEST_NATS || 'nats://127.0.0.1:4222';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const secrets = parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64'));

/** A port that accepts and never answers: every probe waits out its timeout, so its shard takes seconds. */
async function startSilent(): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** The real CLI, `warden worker --config FILE`, from source. */
function startWorkerProcess(configPath: string): WorkerProcess {
  const script = "const { main } = await import('./src/cli/main.ts'); process.exitCode = await main(process.argv.slice(1));";
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'worker', '--config', configPath], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  // 'close', not 'exit': a process can exit before this one has read the last of its stderr (its "stopped" line).
  return { child, output: () => stderr, exited: new Promise((r) => child.once('close', (code) => r(code))) };
}

/** Unique stream, subject and consumer names for one test, deleted afterwards. */
function queueNames() {
  const tag = randomBytes(4).toString('hex');
  return { stream: `WARDEN_TEST_${tag}`, subject: `warden-test-${tag}.shards`, consumer: `workers-${tag}` };
}

async function deleteStream(stream: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(stream).catch(() => false);
  } finally {
    await nc.close();
  }
}

describe('shard planning', () => {
  it('cuts expanded targets into shards, keeping ports and brackets and applying exclusions', () => {
    const shards = [...shardTargets(['10.0.0.0/30', '[::1]:6379', 'db.internal'], ['10.0.0.2'], 2)];
    assert.deepEqual(shards, [['10.0.0.0', '10.0.0.1'], ['10.0.0.3', '[::1]:6379'], ['db.internal']]);
  });
});

describe('distributed mode: two warden worker processes, one killed mid-shard', { timeout: 180_000 }, () => {
  const names = queueNames();
  const dir = mkdtempSync(join(tmpdir(), 'warden-distributed-'));
  const configPath = join(dir, 'warden.yaml');
  const redisPorts: number[] = [];
  let db: ScratchDatabase;
  let store: Store;
  let daemon: ServeDaemon;
  const redis: ChildProcess[] = [];
  const silent: Array<{ server: Server; port: number }> = [];
  const workers: WorkerProcess[] = [];
  const logs: string[] = [];
  let configText = '';

  before(async () => {
    db = await createScratchDatabase();
    for (let i = 0; i < 3; i++) {
      redisPorts.push(await freePort());
      redis.push(await startTestRedis(redisPorts[i]!));
    }
    for (let i = 0; i < 3; i++) silent.push(await startSilent());
    // Silent and Redis targets alternate, so shards 0, 2 and 4 are the slow ones.
    const targets = redisPorts.flatMap((port, i) => [`127.0.0.1:${silent[i]!.port}`, `127.0.0.1:${port}`]);
    configText = `version: 1
store: ${db.url}
inventories:
  - {name: fleet, targets: ${JSON.stringify(targets)}, every: 1h, timeout: 1s}
distributed:
  nats: ${NATS_URL}
  stream: ${names.stream}
  subject: ${names.subject}
  consumer: ${names.consumer}
  shardSize: 1
  ackWait: 2s
  deadline: 90s
`;
    writeFileSync(configPath, configText);
    store = openStore(db.url);
    daemon = await startTestServe({
      config: parseConfig(configText, configPath, {}),
      store,
      secrets,
      schedule: false,
      log: (l) => logs.push(l),
    });
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await daemon?.close();
    for (const r of redis) r.kill('SIGKILL');
    for (const s of silent) s.server.close();
    await store?.close();
    await db?.drop();
    await deleteStream(names.stream);
    rmSync(dir, { recursive: true, force: true });
  });

  it("records every shard exactly once, redelivers the killed worker's shard, and completes the run", async () => {
    workers.push(startWorkerProcess(configPath), startWorkerProcess(configPath));
    await waitFor('both workers to start pulling', () => workers.every((w) => /pulling shards/.test(w.output())), 60_000, 50);
    const run = await daemon.trigger('fleet');
    assert.ok(run);
    // Kill whichever worker starts a slow (silent-port) shard first, while it is scanning it.
    let victim: WorkerProcess | undefined;
    let killedShard = -1;
    await waitFor(
      'a worker to start a slow shard',
      () => {
        for (const w of workers) {
          const m = /shard ([024]) of run \S+ \(fleet\): scanning/.exec(w.output());
          if (m) {
            victim = w;
            killedShard = Number(m[1]);
            return true;
          }
        }
        return false;
      },
      60_000,
      50,
    );
    victim!.child.kill('SIGKILL');
    assert.equal(await victim!.exited, null, 'killed by a signal');
    const survivor = workers.find((w) => w !== victim)!;

    await daemon.settled();
    const done = (await daemon.history.run(run.id))!;
    assert.equal(done.status, 'succeeded', `${done.error ?? ''}\n${logs.join('\n')}\n${survivor.output()}`);
    // Six shards for the scan, then six for re-checking the new findings: three Redis, and the three silent
    // ports, listed as unidentified open ports (unknown is not clean).
    assert.equal(done.shards, 12);
    const results = await daemon.history.shardResults(run.id);
    assert.deepEqual(
      results.map((r) => r.index),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      'each shard recorded once',
    );
    assert.equal(done.endpoints, 6, 'endpoints summed over shards, none counted twice');
    assert.equal(done.openPorts, 6);
    assert.equal(done.findings, 6);
    assert.equal(done.newCount, 6);
    const redelivered = results.find((r) => r.index === killedShard)!;
    assert.ok(redelivered.delivery >= 2, `shard ${killedShard} was redelivered (delivery ${redelivered.delivery})`);
    assert.match(survivor.output(), new RegExp(`shard ${killedShard} of run ${run.id} \\(fleet\\): scanning 1 target \\(delivery [2-9]\\)`));
    const findings = await daemon.history.listFindings({ inventory: 'fleet' });
    assert.deepEqual(
      findings
        .filter((f) => f.service === 'redis')
        .map((f) => f.port)
        .sort(),
      [...redisPorts].sort(),
    );
    assert.deepEqual(
      findings
        .filter((f) => f.service === 'unknown')
        .map((f) => f.port)
        .sort(),
      silent.map((s) => s.port).sort(),
    );

    // The survivor stops cleanly on SIGTERM.
    survivor.child.kill('SIGTERM');
    assert.equal(await survivor.exited, 0, survivor.output());
    assert.match(survivor.output(), /stopped: \d+ shards recorded/);
  });
});

describe('distributed mode: duplicates and the deadline', { timeout: 120_000 }, () => {
  const names = queueNames();
  let db: ScratchDatabase;
  let store: Store;
  let redisPort = 0;
  let redisServer: ChildProcess;
  const config = (deadline: string, targets: string[]): ServeConfig =>
    parseConfig(
      `version: 1
store: ${db.url}
recheck: false
inventories:
  - {name: lab, targets: ${JSON.stringify(targets)}, every: 1h, timeout: 1s}
distributed: {nats: "${NATS_URL}", stream: ${names.stream}, subject: ${names.subject}, consumer: ${names.consumer}, shardSize: 1, ackWait: 1s, deadline: ${deadline}}
`,
      '/tmp/warden.yaml',
      {},
    );

  before(async () => {
    db = await createScratchDatabase();
    store = openStore(db.url);
    redisPort = await freePort();
    redisServer = await startTestRedis(redisPort);
  });
  after(async () => {
    redisServer?.kill('SIGKILL');
    await store?.close();
    await db?.drop();
    await deleteStream(names.stream);
  });

  it('acknowledges a second delivery of a recorded shard without counting it again', async () => {
    const distributed = config('30s', ['127.0.0.1']).distributed!;
    const history = await ServeHistory.open(store);
    const run = (await history.claimRun('lab', 'manual', 'test'))!;
    const nc = await connect({ servers: NATS_URL });
    try {
      await ensureWorkQueue(nc, distributed);
      const shard: ShardMessage = { runId: run.id, index: 0, inventory: 'lab', targets: [`127.0.0.1:${redisPort}`], scan: { timeoutMs: 1000 } };
      // The same shard twice, as after a worker that committed and died before its ack.
      const js = nc.jetstream();
      for (const id of ['first', 'second']) await js.publish(`${distributed.subject}.${run.id}.0`, JSON.stringify(shard), { msgID: `${run.id}.0.${id}` });
    } finally {
      await nc.close();
    }
    const logs: string[] = [];
    const stats = await runWorker({ config: distributed, history, signal: new AbortController().signal, maxShards: 2, log: (l) => logs.push(l) });
    assert.deepEqual(stats, { recorded: 1, duplicates: 1, dropped: 0, failed: 0 }, logs.join('\n'));
    assert.equal(await history.countShards(run.id, 0, 10), 1);
    assert.equal((await history.shardResults(run.id))[0]!.findings.length, 1);
    await history.failRun(run.id, 'test over');
  });

  it('records a run partial when some shards miss the deadline, resolving nothing, and failed when none came', async () => {
    const silentPort = await startSilent();
    const daemonLogs: string[] = [];
    let daemon = await startTestServe({
      config: config('10s', [`127.0.0.1:${redisPort}`]),
      store,
      secrets,
      schedule: false,
      log: (l) => daemonLogs.push(l),
    });
    try {
      // A first, complete run leaves the Redis finding open.
      const first = (await daemon.trigger('lab'))!;
      const stop = new AbortController();
      const worker = runWorker({
        config: config('10s', ['127.0.0.1']).distributed!,
        history: daemon.history,
        signal: stop.signal,
        maxShards: 1,
        log: (l) => daemonLogs.push(`worker: ${l}`),
      });
      await daemon.settled();
      await worker;
      assert.equal((await daemon.history.run(first.id))!.status, 'succeeded', daemonLogs.join('\n'));
      await daemon.close();

      // Now the Redis shard is never taken: the run is partial, and the open finding is not resolved by it.
      daemon = await startTestServe({
        config: config('10s', [`127.0.0.1:${silentPort.port}`, `127.0.0.1:${redisPort}`]),
        store,
        secrets,
        schedule: false,
        log: (l) => daemonLogs.push(l),
      });
      const second = (await daemon.trigger('lab'))!;
      await runWorker({ config: config('10s', ['127.0.0.1']).distributed!, history: daemon.history, signal: stop.signal, maxShards: 1 });
      await daemon.settled();
      const partial = (await daemon.history.run(second.id))!;
      assert.equal(partial.status, 'partial', daemonLogs.join('\n'));
      assert.match(partial.error ?? '', /1 of 2 shards did not come back before the deadline/);
      assert.equal(partial.resolvedCount, 0);
      // The silent port's shard came back: its open port is listed as unidentified, beside the Redis finding.
      assert.deepEqual(
        (await daemon.history.listFindings({ inventory: 'lab', state: 'open' })).map((f) => f.service).sort(),
        ['redis', 'unknown'],
        'the Redis finding stays open',
      );
      assert.equal(await queuedMessages(names.stream), 0, 'the missing shard was purged from the queue');

      // No worker at all: the run fails.
      const third = (await daemon.trigger('lab'))!;
      await daemon.settled();
      const failed = (await daemon.history.run(third.id))!;
      assert.equal(failed.status, 'failed');
      assert.match(failed.error ?? '', /none of the 2 shards came back/);
    } finally {
      await daemon.close();
      silentPort.server.close();
    }
  });
});

async function queuedMessages(stream: string): Promise<number> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    return (await jsm.streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}
