import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getDefaultDetector } from '../detect/index.js';
import { LineBatcher, type BatchItem } from './line-batcher.js';

/** Lines of 1 to about 3,000 bytes, from a fixed seed. */
function lines(count: number): string[] {
  let seed = 7;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  return Array.from({ length: count }, (_, i) => `${i} ${'x'.repeat(next() % 3000)}\n`);
}

function batchesOf(input: Buffer, chunkBytes: number, batchBytes: number): Array<BatchItem & { kind: 'lines' }> {
  const out: Array<BatchItem & { kind: 'lines' }> = [];
  const batcher = new LineBatcher({ batchBytes, maxLineBytes: 1 << 20, format: 'text', detector: getDefaultDetector() }, (item) => {
    assert.equal(item.kind, 'lines');
    if (item.kind === 'lines') out.push({ ...item, bytes: Buffer.from(item.bytes) });
  });
  for (let at = 0; at < input.length; at += chunkBytes) batcher.write(input.subarray(at, at + chunkBytes));
  batcher.end();
  return out;
}

describe('LineBatcher', () => {
  it('keeps a batch within batchBytes unless one line is longer, wherever the chunks fall', () => {
    const text = lines(600);
    text.splice(300, 0, `${'y'.repeat(9000)}\n`);
    const input = Buffer.from(text.join(''));
    for (const chunkBytes of [1, 700, 4096, 65536, input.length]) {
      const batches = batchesOf(input, chunkBytes, 8192);
      assert.deepEqual(Buffer.concat(batches.map((b) => b.bytes)), input, `chunks of ${chunkBytes}`);
      for (const { bytes } of batches) {
        const oneLine = bytes.indexOf(10) === bytes.length - 1;
        assert.ok(bytes.length <= 8192 || oneLine, `a ${bytes.length}-byte batch of several lines (chunks of ${chunkBytes})`);
      }
      // Cut before the line that would overfill, batches stay near the size: no more than twice as many as needed.
      assert.ok(batches.length <= 2 * Math.ceil(input.length / 8192), `${batches.length} batches (chunks of ${chunkBytes})`);
    }
  });

  it('does not cut inside a private-key block to keep a batch small', () => {
    const body = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(4, '0')}${'A'.repeat(60)}\n`).join('');
    const block = `-----BEGIN RSA PRIVATE KEY-----\n${body}-----END RSA PRIVATE KEY-----\n`;
    const input = Buffer.from(`${'z'.repeat(1000)}\n${block}tail\n`);
    const batches = batchesOf(input, 512, 1024);
    assert.ok(
      batches.some((b) => b.bytes.includes(block)),
      'the block is whole in one batch',
    );
  });
});
