import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { siblingWorker, WorkerPool } from './index.js';
import type { TestRequest } from './test-worker.js';

const MODULE = siblingWorker(import.meta.url, 'test-worker');

function testPool(options: { threads?: number; queue?: number; onFailure?: (err: Error) => void } = {}) {
  return new WorkerPool<{ factor: number }, TestRequest, number>({ name: 'test', module: MODULE, threads: 2, setup: { factor: 3 }, ...options });
}

describe('WorkerPool', () => {
  it('answers every request from the setup the workers were built with, however many wait for room', async () => {
    const pool = testPool({ queue: 1 });
    try {
      await pool.whenReady();
      // Twenty callers at once against two workers with room for one each: each waits its turn, none overfills a worker.
      const replies = await Promise.all(Array.from({ length: 20 }, (_, n) => pool.send({ n, busyMs: n % 3 })));
      assert.deepEqual(
        replies,
        Array.from({ length: 20 }, (_, n) => n * 3),
      );
    } finally {
      await pool.close();
    }
  });

  it('turns a request that throws into that request failing; the worker answers the next one', async () => {
    const pool = testPool({ threads: 1 });
    try {
      await pool.whenReady();
      await assert.rejects(pool.send({ n: 1, fail: 'throw' }), /test worker: refused 1/);
      assert.equal(await pool.send({ n: 2 }), 6);
    } finally {
      await pool.close();
    }
  });

  it('fails every waiting and later request when a worker exits, and says so once', async () => {
    const failures: Error[] = [];
    const pool = testPool({ threads: 1, onFailure: (err) => failures.push(err) });
    try {
      await pool.whenReady();
      const waiting = pool.send({ n: 1, busyMs: 50 });
      const exiting = pool.send({ n: 2, fail: 'exit' });
      assert.equal(await waiting, 3);
      await assert.rejects(exiting, /test worker exited with code 7/);
      await assert.rejects(pool.send({ n: 3 }), /exited with code 7/);
      assert.equal(failures.length, 1);
    } finally {
      await pool.close();
    }
  });
});
