// Recall inside realistic lines: each shipped rule's first match sample, embedded in the log formats
// Warden scrubs (syslog, NDJSON with the sample JSON-escaped inside a string, logfmt with trailing
// fields), must still be reported by the full shipped detector, with a finding that covers the
// secret. This catches rules that only work on a bare sample (anchors, boundaries that reject the
// surrounding text) and generic rules that swallow a provider's secret into a shorter span.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Detector } from './engine.js';
import { getDefaultDetector, loadShippedRules } from './load.js';
import { expandSample } from './samples.js';
import { CorpusRandom } from './test-log-corpus.js';

interface Embedding {
  name: string;
  /** The line, and where the secret's raw text sits in it. */
  embed: (sample: string, secret: { start: number; end: number }, r: CorpusRandom) => { line: string; start: number; end: number };
}

const EMBEDDINGS: Embedding[] = [
  {
    name: 'syslog',
    embed: (sample, s, r) => {
      const prefix = `Jan ${r.int(10, 28)} 10:15:30 gw-${r.int(1, 9)} gateway[${r.int(100, 99999)}]: `;
      return { line: prefix + sample, start: prefix.length + s.start, end: prefix.length + s.end };
    },
  },
  {
    name: 'ndjson',
    embed: (sample, s, r) => {
      // The sample sits JSON-escaped inside "msg"; the secret's raw bytes are its escaped form.
      const head = `{"ts":"${r.timestamp()}","level":"warn","request_id":"req_${r.chars('alnum', 24)}","trace_id":"${r.hex(32)}","msg":"`;
      const escaped = (text: string) => JSON.stringify(text).slice(1, -1);
      const start = head.length + escaped(sample.slice(0, s.start)).length;
      const end = start + escaped(sample.slice(s.start, s.end)).length;
      return { line: `${head}${escaped(sample)}","latency_ms":${r.int(1, 9000)},"usage":{"prompt_tokens":${r.int(1, 900)}}}`, start, end };
    },
  },
  {
    name: 'logfmt',
    embed: (sample, s, r) => {
      const prefix = `time=${r.timestamp()} level=info caller=proxy.go:${r.int(10, 999)} `;
      return { line: `${prefix}${sample} duration_ms=${r.int(1, 9000)} status=200`, start: prefix.length + s.start, end: prefix.length + s.end };
    },
  },
];

describe('recall of every shipped rule inside realistic log lines', () => {
  const detector = getDefaultDetector();
  const r = new CorpusRandom(0x7eca11);
  it("reports a secret covering each rule's first sample in syslog, NDJSON and logfmt lines", () => {
    const missed: string[] = [];
    // Rules limited to files or keys never see log lines.
    for (const rule of loadShippedRules().filter((r) => !r.files && !r.keys)) {
      const sample = expandSample(rule.samples.match[0]!);
      const own = new Detector([rule]).scan(sample).find((m) => m.ruleId === rule.id);
      assert.ok(own, `${rule.id} does not match its own first sample`);
      for (const embedding of EMBEDDINGS) {
        const { line, start, end } = embedding.embed(sample, own, r);
        const covered = detector.scan(line).some((m) => m.start <= start && m.end >= end);
        if (!covered) missed.push(`${rule.id} in ${embedding.name}: ${JSON.stringify(line.slice(0, 240))}`);
      }
    }
    assert.deepEqual(missed, [], `secrets not reported in context:\n${missed.join('\n')}`);
  });
});
