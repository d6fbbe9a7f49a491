import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { expandSample, getDefaultDetector } from './index.js';
import { findSecretsInPaths, findSecretsInStream, type FindOptions } from './files/index.js';
import { DetectionPool } from './pool.js';
import { writeUnder } from '../../test/helpers/files.js';

const KEY = 'sk-proj-' + expandSample('{alnum_-:40}') + 'T3BlbkFJ' + expandSample('{alnum_-:40}', 7);
const GITHUB = 'ghp_' + expandSample('{alnum:36}', 5);
const PEM = `-----BEGIN RSA PRIVATE KEY-----\n${expandSample('{base64:64}', 3)}\n${expandSample('{base64:64}', 4)}\n-----END RSA PRIVATE KEY-----`;
const fingerprintKey = Buffer.from('test-fingerprint-key');
const detector = getDefaultDetector();
const base = (): FindOptions => ({ detector, fingerprintKey });

/** A pool whose two workers are ready before the first fragment (this thread takes what finds no room). */
async function startedPool(): Promise<DetectionPool> {
  const pool = new DetectionPool({ detector, fingerprintKey, threads: 3, workersFromChars: 0 });
  await pool.start();
  return pool;
}

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'warden-pool-'));
  const w = (rel: string, data: string | Buffer) => writeUnder(root, rel, data);
  w('app/config.env', `# réglages\nNAME=passerelle\nOPENAI_API_KEY=${KEY}\nDB_PASSWORD=hunter2\n`);
  w('app/keys/id_rsa', `header\n${PEM}\n`);
  w('logs/crlf.log', `start\r\nauthorization: Bearer ${GITHUB}\r\nend\r\n`);
  // Many lines over several fragments, with non-ASCII text before keys: columns are counted in UTF-16 units.
  const lines: string[] = [];
  for (let i = 0; i < 40_000; i++)
    lines.push(i % 997 === 0 ? `${'é😀'.repeat(i % 7)} token=${GITHUB} n=${i}` : `{"i":${i},"msg":"ünïcödé ${'x'.repeat(i % 50)}"}`);
  w('logs/big.log', lines.join('\n') + '\n');
  w('logs/long-line.txt', `first\n${'é'.repeat(3000)} ${KEY} ${'ü'.repeat(9000)}\nlast ${GITHUB}`);
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('DetectionPool', () => {
  it('finds in a folder on workers exactly what one thread finds: lines, columns, whole-file keys, notes', async () => {
    const alone = await findSecretsInPaths([root], { ...base(), threads: 1, maxLineChars: 4096 });
    const pool = await startedPool();
    try {
      const pooled = await findSecretsInPaths([root], { ...base(), pool, maxLineChars: 4096 });
      assert.equal(pool.workers, 2);
      assert.ok(alone.findings.length > 40, `${alone.findings.length} findings`);
      assert.deepEqual(pooled, alone);
    } finally {
      await pool.close();
    }
  });

  it('cuts a long line between characters and places a key after multi-byte text by UTF-16 column', async () => {
    const line = '€'.repeat(2000) + ' ' + KEY + ' ' + 'ü'.repeat(10_000);
    const bytes = Buffer.from(`first line\n${line}\n`);
    // Chunks that split characters too.
    const chunks = [bytes.subarray(0, 3001), bytes.subarray(3001, 6003), bytes.subarray(6003)];
    const alone = await findSecretsInStream(Readable.from(chunks), 'cut.txt', { ...base(), threads: 1, maxLineChars: 4096 });
    assert.deepEqual(
      alone.findings.map((f) => `${f.line}:${f.column}:${f.endColumn}`),
      [`2:2002:${2002 + KEY.length}`],
    );
    const pool = await startedPool();
    try {
      assert.deepEqual(await findSecretsInStream(Readable.from(chunks), 'cut.txt', { ...base(), pool, maxLineChars: 4096 }), alone);
    } finally {
      await pool.close();
    }
  });

  it('scans batches of texts as the detector does on this thread', async () => {
    const texts = [`{"api_key":"${KEY}"}`, 'nothing here', `Authorization: Bearer ${GITHUB}`, PEM];
    const pool = await startedPool();
    try {
      assert.deepEqual(
        await pool.scan(texts),
        texts.map((t) => detector.scan(t)),
      );
    } finally {
      await pool.close();
    }
  });

  it('stays on the calling thread for a small read, and with one thread', async () => {
    const pool = new DetectionPool({ detector, fingerprintKey, threads: 2 });
    const one = new DetectionPool({ detector, fingerprintKey, threads: 1, workersFromChars: 0 });
    await findSecretsInPaths([root], { ...base(), pool });
    await findSecretsInPaths([root], { ...base(), pool: one });
    assert.equal(pool.workers, 0);
    assert.equal(one.workers, 0);
  });
});
