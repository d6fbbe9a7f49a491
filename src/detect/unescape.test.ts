import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unescapeBytes, unescapeOnce } from './unescape.js';

describe('unescape', () => {
  it('decodes one level of JSON and percent escapes and maps offsets back', () => {
    const raw = 'a\\"key\\": %41B\\u0043 %0A \\q \\';
    const view = unescapeOnce(raw)!;
    assert.equal(view.text, 'a"key": ABC %0A \\q \\');
    assert.equal(view.toRaw[view.text.indexOf('B')], raw.indexOf('B'));
    assert.equal(view.toRaw[view.text.length], raw.length);
    assert.equal(unescapeOnce('nothing escaped here'), undefined);
    assert.equal(unescapeOnce('cut \\u00', 0, 7), undefined, 'an escape cut by the window end is left as it is');
  });

  it('writes the same decoding as bytes, for every window of mixed escapes', () => {
    const pieces = ['\\', '%', '%3D', '%2', '%0A', '\\"', '\\n', '\\u0041', '\\u4e2d', '\\u00', '\\uzz', 'a', '\\\\', 'é', '中'];
    const out = new Uint8Array(256);
    for (let seed = 1; seed < 3000; seed++) {
      let text = '';
      for (let i = 0, x = seed; i < 8; i++, x = (x * 7919 + 13) % 10007) text += pieces[x % pieces.length];
      const from = seed % 5;
      const to = Math.max(from, text.length - (seed % 4));
      const view = unescapeOnce(text, from, to);
      const n = unescapeBytes(text, from, to, out);
      assert.equal(
        n < 0 ? undefined : Buffer.from(out.subarray(0, n)).toString('latin1'),
        view && Buffer.from(view.text, 'latin1').toString('latin1'),
        JSON.stringify([text, from, to]),
      );
    }
  });
});
