import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Detector } from './engine.js';
import { isLineConfined } from './line-confined.js';
import type { RuleSpec } from './types.js';

describe('isLineConfined', () => {
  it('accepts patterns that can neither cross nor look past a line end', () => {
    for (const p of [
      '(?<![A-Za-z0-9])AKIA[A-Z2-7]{16}[^\\n]{1,40}?x',
      'a[^\\s"]+b',
      '\\S+\\d\\w\\b',
      '[ -~]{3}',
      '[\\--\\/]',
      '\\x41\\u0042[\\r\\t]',
      'x$',
      'a.b',
      '[\\b]',
      'a(?=["\\s,]|$)',
      'a(?!\\s|\\W)',
    ])
      assert.equal(isLineConfined(p, 'gd'), true, p);
  });
  it('refuses anything that could match a line feed, or that depends on where the input starts', () => {
    for (const p of [
      'a\\s{0,3}b',
      '[^a]',
      '[\\x00-\\x7f]',
      '[\\t-\\r]',
      '^x',
      'a\\nb',
      '(a)\\1',
      '\\W',
      '\\D',
      '[\\s\\S]',
      '\\x0a',
      '[\\u000A]',
      '\\cJ',
      '\\k<n>',
      '[a',
      'a\n',
      'a(?=\\s\\s)',
      'a(?=\\s*b)',
      'a(?=(\\s))',
      '(?<=\\s)a',
    ])
      assert.equal(isLineConfined(p, 'gd'), false, JSON.stringify(p));
    assert.equal(isLineConfined('a.b', 'gds'), false, 'with the s flag a dot matches a line feed');
  });
});

describe('rules confined to a line', () => {
  const rule = (over: Partial<RuleSpec>): RuleSpec => ({
    id: 'r',
    title: 't',
    severity: 'high',
    keywords: ['tok_'],
    pattern: '(?<secret>tok_[A-Za-z0-9]{16})',
    samples: { match: ['x'], noMatch: ['y'] },
    ...over,
  });

  it('run on the lines holding their keywords, whatever else the text holds', () => {
    const d = new Detector([rule({ keywords: ['token='], pattern: 'token=(?<secret>[A-Za-z0-9]{16})' })]);
    const text = ['filler '.repeat(50), 'a token=ABCDEFGHabcdefgh b', 'filler', 'TOKEN=ABCDEFGHabcdefgh'].join('\n');
    assert.deepEqual(
      d.scan(text).map((m) => [m.start, text.slice(m.start, m.end)]),
      [[text.indexOf('ABCD'), 'ABCDEFGHabcdefgh']],
    );
    // A keyword on another line does not send the rule over this one.
    const marked = new Detector([rule({ keywords: ['kw_marker'], pattern: 'secret=(?<secret>[A-Za-z0-9]{16})' })]);
    assert.deepEqual(marked.scan('kw_marker here\nsecret=Q7fK2mZx9LpW4tRb'), []);
    assert.equal(marked.scan('kw_marker secret=Q7fK2mZx9LpW4tRb').length, 1);
  });
  it('leave a rule that spans lines running over the whole text', () => {
    const d = new Detector([rule({ keywords: ['"type"'], pattern: '"key":\\s*"(?<secret>[a-f0-9]{16})"(?=[^{}]*"type")' })]);
    const text = '{\n  "key": "9f3a1c7e5b2d8a40",\n  "other": 1,\n  "type": "x"\n}';
    assert.deepEqual(
      d.scan(text).map((m) => m.secret),
      ['9f3a1c7e5b2d8a40'],
    );
  });
});
