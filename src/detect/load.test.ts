import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fingerprintSecret } from './fingerprint.js';
import { loadDetector, RuleFileError } from './load.js';
import { expandSample } from './samples.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-rules-'));
function ruleFile(name: string, yaml: string): string {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}

const INTERNAL = `
provider: acme
rules:
  - id: acme-internal-token
    title: ACME internal service token
    severity: high
    keywords: [acme_tok_]
    pattern: '(?<secret>acme_tok_[a-z0-9]{24})'
    samples:
      match: ['token=acme_tok_{lowernum:24}']
      noMatch: ['acme_tok_short']
`;

describe('user rule files', () => {
  it('add rules beside the shipped ones', () => {
    const { detector } = loadDetector({ ruleFiles: [ruleFile('acme.yaml', INTERNAL)] });
    const hits = detector.scan(expandSample('x acme_tok_{lowernum:24} y'));
    assert.deepEqual(
      hits.map((h) => h.ruleId),
      ['acme-internal-token'],
    );
    assert.ok(detector.rules.length > 150);
  });

  it('refuse a pattern that could backtrack catastrophically, naming file and rule', () => {
    const path = ruleFile('redos.yaml', INTERNAL.replace('(?<secret>acme_tok_[a-z0-9]{24})', '(?<secret>acme_tok_(a+)+$)'));
    assert.throws(
      () => loadDetector({ ruleFiles: [path] }),
      (err: unknown) =>
        err instanceof RuleFileError && err.message.includes('redos.yaml') && err.message.includes('acme-internal-token') && /ReDoS/.test(err.message),
    );
  });

  it('refuse a file that breaks the schema with the field that is wrong', () => {
    const path = ruleFile('bad.yaml', 'rules:\n  - id: x\n    title: missing things\n    severity: loud\n');
    assert.throws(
      () => loadDetector({ ruleFiles: [path] }),
      (err: unknown) => err instanceof RuleFileError && err.message.includes('bad.yaml') && /severity|required/.test(err.message),
    );
  });

  it('apply allowlists by regex and by fingerprint, and disable shipped rules by id', () => {
    const token = expandSample('acme_tok_{lowernum:24}', 3);
    const allow = ruleFile(
      'allow.yaml',
      `allowlist:\n  regexes: ['^acme_tok_0']\n  fingerprints: ['${fingerprintSecret('acme-internal-token', token, 'k')}']\ndisable: [openai-project-key]\n`,
    );
    const loaded = loadDetector({ ruleFiles: [ruleFile('acme.yaml', INTERNAL), allow] });
    assert.ok(loaded.ignoredFingerprints.has(fingerprintSecret('acme-internal-token', token, 'k')));
    const allowed = 'acme_tok_0a1b2c3d4e5f6g7h8i9j0k1l';
    assert.equal(loadDetector({ ruleFiles: [ruleFile('acme.yaml', INTERNAL)] }).detector.scan(allowed).length, 1);
    assert.deepEqual(loaded.detector.scan(allowed), []);
    assert.equal(
      loaded.detector.rules.some((r) => r.spec.id === 'openai-project-key'),
      false,
    );
  });
});
