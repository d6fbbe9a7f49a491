// Runs every shipped rule's own samples (gitleaks-style): each rule must find all of its `match`
// samples (at medium or high confidence), its `lowConfidence` samples at low confidence, and none of
// its `noMatch` near misses, and no pattern may backtrack catastrophically.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Detector } from './engine.js';
import { parseStructured, structuredFormat } from './files/structured.js';
import { loadShippedRuleFiles, regexSafety } from './load.js';
import { expandSample } from './samples.js';
import type { RuleSpec, SecretMatch } from './types.js';

const files = loadShippedRuleFiles();
const allRules = files.flatMap((f) => f.rules);
/** Rules limited to files or keys run on whole files (their samples), never on lines. */
const onFiles = (r: RuleSpec) => r.files !== undefined || r.keys !== undefined;

/** A rule's matches in one of its samples: a line rule scans it as text, a file or key rule as the file `samples.path`. */
function scanSample(one: Detector, rule: RuleSpec, sample: string): SecretMatch[] {
  if (!onFiles(rule)) return one.scan(sample);
  const path = rule.samples.path ?? '';
  const format = structuredFormat(path, sample);
  return one.scanStructure(sample, path, () => (format ? parseStructured(format, sample) : []));
}

describe('shipped rules', () => {
  it('are many, with unique ids, each with both kinds of samples', () => {
    const ids = allRules.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'duplicate rule ids');
    for (const r of allRules) {
      assert.ok(r.samples.match.length > 0 && r.samples.noMatch.length > 0, `${r.id} lacks samples`);
      if (onFiles(r)) assert.ok(r.samples.path, `${r.id} runs on files: samples.path names the file its samples are`);
      else assert.ok(r.keywords.length > 0, `${r.id} has no keywords: it would run on every line`);
    }
  });

  it('name in their keywords every spelling their patterns accept around a sample (a rule runs only where one occurs)', () => {
    // Each separator before the secret in a match sample is swapped for the others the pattern allows.
    const gaps: string[] = [];
    for (const r of allRules.filter((r) => !onFiles(r))) {
      const pattern = new RegExp(r.pattern, r.caseInsensitive ? 'i' : '');
      const keywords = r.keywords.map((k) => (r.caseSensitiveKeywords ? k : k.toLowerCase()));
      for (const template of r.samples.match) {
        const sample = expandSample(template);
        const m = pattern.exec(sample);
        if (!m) continue;
        const secretAt = m.groups?.secret ? m[0].indexOf(m.groups.secret) : m[0].length;
        const lead = m[0].slice(0, secretAt);
        for (let i = 0; i < lead.length; i++) {
          if (!'_-.'.includes(lead[i]!)) continue;
          for (const sep of ['_', '-', '.', '']) {
            const variant = sample.replace(lead, lead.slice(0, i) + sep + lead.slice(i + 1));
            const text = r.caseSensitiveKeywords ? variant : variant.toLowerCase();
            if (pattern.test(variant) && !keywords.some((k) => text.includes(k))) gaps.push(`${r.id}: ${variant}`);
          }
        }
      }
    }
    assert.deepEqual(gaps, []);
  });

  for (const file of files) {
    describe(file.path.replace(/.*\/rules\//, 'rules/'), () => {
      for (const rule of file.rules) {
        it(rule.id, () => {
          const one = new Detector([rule]);
          for (const template of rule.samples.match) {
            const sample = expandSample(template);
            const hit = scanSample(one, rule, sample).find((h) => h.ruleId === rule.id);
            assert.ok(hit, `${rule.id} missed its sample ${JSON.stringify(sample)} with /${rule.pattern}/`);
            assert.notEqual(hit.confidence, 'low', `${rule.id} found its sample ${JSON.stringify(sample)} only at low confidence (${hit.reason})`);
          }
          // Weak and unconfirmed credentials are found (and so redacted), at low confidence.
          for (const template of rule.samples.lowConfidence ?? []) {
            const sample = expandSample(template);
            const hit = scanSample(one, rule, sample).find((h) => h.ruleId === rule.id);
            assert.ok(hit, `${rule.id} missed its low-confidence sample ${JSON.stringify(sample)} with /${rule.pattern}/`);
            assert.equal(hit.confidence, 'low', `${rule.id} found ${JSON.stringify(sample)} at ${hit.confidence}, expected low`);
          }
          for (const template of rule.samples.noMatch) {
            const sample = expandSample(template);
            const hits = scanSample(one, rule, sample);
            assert.deepEqual(
              hits.map((h) => h.secret),
              [],
              `${rule.id} matched its near miss ${JSON.stringify(sample)}`,
            );
          }
          // 'cannot be proven safe' (large bounded repeats) is left to the adversarial time bound below.
          assert.notEqual(
            regexSafety(rule.pattern, rule.caseInsensitive ? 'i' : ''),
            'is vulnerable to ReDoS',
            `${rule.id} pattern backtracks catastrophically`,
          );
        });
      }
    });
  }
});

describe('adversarial input', () => {
  // Long runs built from each rule's own alphabet and keywords: a pattern that backtracks badly
  // takes seconds here, a linear one microseconds.
  const detector = new Detector(allRules);
  const inputs = [
    'a'.repeat(200_000),
    '-'.repeat(100_000),
    'sk-'.repeat(50_000),
    '=' + ' '.repeat(100_000),
    ...allRules.slice(0, 400).map((r) => (r.keywords[0] ?? '') + expandSample(r.samples.match[0]!).slice(0, -1).repeat(3) + '\\'.repeat(2000)),
    allRules
      .map((r) => r.keywords.join(' '))
      .join(' ')
      .repeat(50),
    '-----BEGIN RSA PRIVATE KEY-----\n' + 'A'.repeat(200_000),
    'password='.repeat(20_000),
    'https://'.repeat(20_000) + 'user:' + '@'.repeat(10_000),
  ];
  it('scans each hostile input within a time bound', () => {
    for (const input of inputs) {
      const t = process.hrtime.bigint();
      detector.scan(input);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      assert.ok(ms < 1500, `took ${ms.toFixed(0)} ms on input starting ${JSON.stringify(input.slice(0, 40))}`);
    }
  });
});
