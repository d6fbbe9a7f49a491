/** Redis probe against real redis-server processes started here (open, and with requirepass). */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startTestRedis } from '../../../test/helpers/redis.js';
import { expandSample } from '../../detect/index.js';
import { itScansHostilePeersAsUnknown } from '../../../test/helpers/hostile-peers.js';
import { scan } from '../index.js';
import { encodeCommand, parseReply, respFrame } from '../transports/resp.js';
import { connectTcp, TcpConnection } from '../transports/tcp.js';
import { redis } from './redis.js';

const OPEN_PORT = 16379;
const LOCKED_PORT = 26379;

async function command(port: number, ...args: Array<string | number>): Promise<unknown> {
  const c = await connectTcp('127.0.0.1', port, { timeoutMs: 2000 });
  assert.ok(c instanceof TcpConnection);
  c.write(encodeCommand(args));
  const reply = await c.read(respFrame, { timeoutMs: 2000 });
  c.close();
  assert.ok(Buffer.isBuffer(reply));
  const parsed = parseReply(reply);
  return parsed.state === 'ok' ? parsed.value : undefined;
}

describe('Redis probe against real servers', { timeout: 60_000 }, () => {
  const children: ChildProcess[] = [];
  before(async () => {
    children.push(await startTestRedis(OPEN_PORT), await startTestRedis(LOCKED_PORT, ['--requirepass', 'locked-test-password']));
    for (let i = 0; i < 20; i++) {
      const secret = i < 3 ? ` key=${expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}', 50 + i)}` : '';
      await command(OPEN_PORT, 'SET', `session:${i}`, `{"role":"user","content":"hi ${i}"}${secret}`);
    }
  });
  after(() => children.forEach((c) => c.kill('SIGKILL')));

  it('reports an open Redis with keys, credentials and chat values, read-only', async () => {
    const before = await command(OPEN_PORT, 'DBSIZE');
    const report = await scan({ targets: [`127.0.0.1:${OPEN_PORT}`], sample: 50, probes: [redis] });
    const [f] = report.findings;
    assert.ok(f, JSON.stringify(report));
    assert.equal(f.id, `redis:127.0.0.1:${OPEN_PORT}`);
    assert.equal(f.auth, 'none');
    assert.equal(f.severity, 'critical');
    assert.match(f.evidence.version ?? '', /^\d+\./);
    assert.equal(f.evidence.user, 'default');
    const keys = f.evidence.databases?.[0]?.tables[0];
    assert.equal(keys?.rows, 20);
    assert.equal(keys?.credentials?.byRule['openai-project-key'], 3);
    assert.deepEqual(keys?.conversationColumns, ['value']);
    assert.doesNotMatch(JSON.stringify(report), /T3BlbkFJ|session:/);
    assert.equal(await command(OPEN_PORT, 'DBSIZE'), before);
  });

  it('reports a Redis with requirepass as auth required (info), found on a non-default port', async () => {
    const report = await scan({ targets: [`127.0.0.1:${LOCKED_PORT}`], probes: [redis] });
    assert.equal(report.findings[0]?.auth, 'required');
    assert.equal(report.findings[0]?.severity, 'info');
  });

  itScansHostilePeersAsUnknown('Redis', [redis]);
});
