import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandSample, getDefaultDetector } from '../index.js';
import { decodeFragment, FRAGMENT_BYTES, rawFragmentsOf } from './fragments.js';
import { findInFragment } from './locate.js';

const KEY = Buffer.from('fragments-test-key');

async function* chunksOf(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

describe('rawFragmentsOf', () => {
  it('finds secrets whose match spans lines across a cut between fragments, once, where a whole-text scan does', async () => {
    const detector = getDefaultDetector();
    // Every shipped sample whose match spans lines (a .netrc entry, a service account's JSON, a key block):
    // repeated through filler lines of varied lengths, so cuts fall inside some of them.
    const multiLine = detector.rules.flatMap((r) => r.spec.samples.match.filter((s) => s.includes('\n')));
    assert.ok(multiLine.length >= 3, 'shipped rules have multi-line samples');
    const parts: string[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 5 * FRAGMENT_BYTES; i++) {
      const filler = `${i} ${'lorem ipsum '.repeat(i % 23)}\n`.repeat(1 + (i % 7));
      const sample = `${expandSample(multiLine[i % multiLine.length]!, i)}\n`;
      parts.push(filler, sample);
      bytes += filler.length + sample.length;
    }
    const text = parts.join('');
    const whole = findInFragment(detector, { path: 'f.txt', text, line: 1, column: 0, ownedEnd: text.length }, KEY);
    assert.ok(whole.length > multiLine.length);
    for (const size of [4096, 65536, 1024 * 1024]) {
      const found = [];
      for await (const raw of rawFragmentsOf(chunksOf(Buffer.from(text), size), 'f.txt', 1024 * 1024)) {
        assert.ok(raw.bytes.length - raw.ownedFrom <= FRAGMENT_BYTES + 4096, `a fragment of ${raw.bytes.length} bytes`);
        found.push(...findInFragment(detector, decodeFragment(raw), KEY));
      }
      assert.deepEqual(found, whole, `read ${size} bytes at a time`);
    }
  });
});
