import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FIELD_NAME_HINTS, getDefaultDetector } from '../detect/index.js';
import { isSensitiveFieldName, sensitiveFieldSpans, sensitiveNameOffsets } from './fields.js';

const detector = getDefaultDetector();

/** The definition of a name hint as one regex: what the automaton-driven search must find (it may find more). */
const NAME_HINT = new RegExp(`"([^"\\\\\\n]{0,40}?(?:${FIELD_NAME_HINTS.join('|')})[^"\\\\\\n]{0,40}?)"[ \\t]*[:,]`, 'gi');

function byRegex(text: string): number[] {
  const out: number[] = [];
  NAME_HINT.lastIndex = 0;
  for (let m = NAME_HINT.exec(text); m; m = NAME_HINT.exec(text)) if (isSensitiveFieldName(m[1]!)) out.push(m.index);
  return out;
}

describe('sensitive field names', () => {
  it('finds every name the hint regex finds, in order, on random JSON-like lines', () => {
    const pieces = [
      '"',
      '":',
      '",',
      '" :',
      ':',
      ',',
      '\\',
      '\n',
      ' ',
      'x',
      'Api_Key',
      'password',
      'prompt_tokens',
      'AUTHORIZATION',
      'session_token',
      'verificationCode',
      'otp',
      'a'.repeat(45),
      '{',
      '}',
    ];
    for (let seed = 1; seed <= 300; seed++) {
      let text = '';
      for (let i = 0, x = seed; i < 60; i++, x = (x * 1103515245 + 12345) & 0x7fffffff) text += pieces[(x >> 8) % pieces.length];
      const found = sensitiveNameOffsets(text);
      // The same from the hints the detector's own pass reports (the shipped detector watches them).
      const hints: number[] = [];
      detector.scan(text, hints);
      assert.deepEqual(sensitiveNameOffsets(text, hints), found, `hints from the detector: ${JSON.stringify(text)}`);
      assert.ok(
        found.every((at, i) => i === 0 || found[i - 1]! < at),
        `in order: ${JSON.stringify(text)}`,
      );
      for (const at of byRegex(text)) assert.ok(found.includes(at), `${at} in ${JSON.stringify(text)}`);
    }
  });
  it('skips benign names that hold a hint and names too long around it', () => {
    const line = `{"prompt_tokens":3,"${'n'.repeat(41)}token":"x","api_key":"k","x": "Authorization", "Bearer y"}`;
    assert.deepEqual(
      sensitiveNameOffsets(line).map((at) => line.slice(at, line.indexOf('"', at + 1) + 1)),
      ['"api_key"', '"Authorization"'],
    );
  });
  it('remembers a name without keeping alive the batch it was cut from', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heapAfter = (make: () => void) => {
      make();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heapAfter(() => {});
    const after = heapAfter(() => {
      // 40 batches of 1 MB, each leaving one never-seen name in the verdict cache.
      for (let i = 0; i < 40; i++) {
        const batch = `{"x2fa${i}_${Math.random()}":1}`.padEnd(1024 * 1024, ' ');
        isSensitiveFieldName(batch.slice(2, batch.indexOf('"', 2)));
      }
    });
    assert.ok(after - before < 8 * 1024 * 1024, `${((after - before) / 1024 / 1024).toFixed(1)} MB kept`);
  });
});

describe('sensitive field spans (the NDJSON walk)', () => {
  const spans = (line: string) => sensitiveFieldSpans(line)?.map((f) => [f.field, line.slice(f.start, f.end)]);
  it("finds a header object's value whichever member comes first, labelled by the first name, key or header holding text", () => {
    assert.deepEqual(spans('{"value":"Bearer zzz","name":"Authorization"}'), [['Authorization', 'Bearer zzz']]);
    assert.deepEqual(spans('{"name":{"a":1},"key":"X-Api-Key","values":["k1"]}'), [['X-Api-Key', '["k1"]']]);
    assert.deepEqual(spans('{"name":"accept","value":"json"}'), []);
  });
  it('takes a pair only from a two-item array', () => {
    assert.deepEqual(spans('[["authorization","Basic dXNlcjpwYXNz"]]'), [['authorization', 'Basic dXNlcjpwYXNz']]);
    assert.deepEqual(spans('[["authorization","a","b"]]'), []);
  });
  it('keeps a token as text in a logprobs entry whichever member comes first, and a number under a token name as a count', () => {
    assert.deepEqual(spans('{"logprob":-0.1,"token":" the"}'), []);
    assert.deepEqual(spans('{"token":20970,"password":123}'), [['password', '123']]);
  });
  it('is not JSON where a short string, wanted or not, holds a bad escape (the pattern rules then take the line)', () => {
    assert.equal(spans('{"x":"\\q","password":"p"}'), undefined);
    assert.equal(spans('{"pass\\qword":"p"}'), undefined);
    assert.deepEqual(spans('{"pass\\u0077ord":"p"}'), [['password', 'p']]);
    assert.equal(spans('{"n":1.2.3}'), undefined);
    assert.equal(spans('{"n":nullx}'), undefined);
  });
});
