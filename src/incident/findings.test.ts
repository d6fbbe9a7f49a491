import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { expandSample, getDefaultDetector } from '../detect/index.js';
import { detectorRules, formatSarif, WARDEN_TOOL } from '../report/index.js';
import { triage, triageFindings } from './index.js';

const sampleOf = (ruleId: string, seed: number) => expandSample(getDefaultDetector().rules.find((r) => r.spec.id === ruleId)!.spec.samples.match[0]!, seed);

describe('triageFindings', () => {
  it('gives each distinct credential of a triaged dump as a finding at the dump, by keyed fingerprint, never the value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-triage-findings-'));
    try {
      const [openai, github] = [sampleOf('openai-project-key', 1), sampleOf('github-pat', 2)];
      const dump = join(dir, 'logs.ndjson');
      writeFileSync(dump, [openai, openai, github].map((line, i) => JSON.stringify({ ts: `2025-01-06T00:00:0${i}Z`, msg: line })).join('\n') + '\n');
      const result = await triage(dump, { fingerprintKey: 'k', env: {} });
      const rules = detectorRules(getDefaultDetector());
      const findings = triageFindings(result, rules);
      assert.deepEqual(findings.map((f) => [f.ruleId, f.details?.occurrences]).sort(), [
        ['github-pat', 1],
        ['openai-project-key', 2],
      ]);
      for (const f of findings) {
        assert.equal(f.location.uri, result.source);
        assert.equal(f.severity, rules.find((r) => r.id === f.ruleId)!.severity);
      }
      const sarif = formatSarif(findings, { tool: WARDEN_TOOL, rules });
      assert.ok(!sarif.includes(openai) && !sarif.includes(github), 'no secret in the report');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
