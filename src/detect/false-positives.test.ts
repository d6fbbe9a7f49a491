// The shipped detector on a clean corpus: 100,000 generated lines of what AI gateways and the
// services around them log when nothing has leaked (ids, digests, token counts, base64 payloads,
// placeholders, documentation keys, prose about tokens and passwords). Any finding is a false
// positive; the failure names the rule and the line so the rule's author can tighten it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getDefaultDetector } from './load.js';
import { cleanLogLines } from './test-log-corpus.js';

const CORPUS_LINES = 100_000;

describe('false positives on a clean log corpus', () => {
  it(`the shipped rules find nothing in ${CORPUS_LINES.toLocaleString('en')} clean lines`, () => {
    const detector = getDefaultDetector();
    const offending = new Map<string, { count: number; kind: string; line: string; found: string }>();
    for (const { kind, line } of cleanLogLines(CORPUS_LINES)) {
      for (const m of detector.scan(line)) {
        const seen = offending.get(m.ruleId);
        if (seen) seen.count++;
        else offending.set(m.ruleId, { count: 1, kind, line: line.slice(0, 300), found: m.secret.slice(0, 80) });
      }
    }
    const report = [...offending].map(([rule, o]) => `${rule} (${o.count}x, e.g. ${o.kind}): matched ${JSON.stringify(o.found)} in ${JSON.stringify(o.line)}`);
    assert.deepEqual(report, [], `false positives:\n${report.join('\n')}`);
  });
});
