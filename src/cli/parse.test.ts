import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../errors.js';
import { parsePositiveInt } from './parse.js';

describe('parsePositiveInt: the one count parser for flags', () => {
  it('takes digits from 1 to the maximum', () => {
    assert.equal(parsePositiveInt('1', '--n'), 1);
    assert.equal(parsePositiveInt('4096', '--concurrency', 4096), 4096);
  });

  it('refuses anything else as bad usage, naming the flag and the range', () => {
    for (const text of ['0', '-1', '1.5', '1e3', ' 2', '0x10', '', 'many']) {
      assert.throws(
        () => parsePositiveInt(text, '--n'),
        (err) => err instanceof UsageError && err.message === `--n: expected a whole number above 0, got ${JSON.stringify(text)}`,
      );
    }
    assert.throws(() => parsePositiveInt('10001', '--sample', 10_000), /--sample: expected a whole number from 1 to 10000, got "10001"/);
  });
});
