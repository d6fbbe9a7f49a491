import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReport, sarifUri, SARIF_FINGERPRINT_KEY, type ReportFinding } from './index.js';

const tool = { name: 'warden', version: '0.1.0', informationUri: 'https://example.invalid/warden' };
const findings: ReportFinding[] = [
  {
    ruleId: 'openai-project-key',
    title: 'OpenAI project API key',
    severity: 'critical',
    fingerprint: '0123456789abcdef',
    location: { uri: 'src/config dir/app.env', line: 3, column: 16, endLine: 3, endColumn: 180 },
  },
  {
    ruleId: 'exposed-clickhouse',
    title: 'ClickHouse HTTP interface without authentication',
    severity: 'high',
    fingerprint: 'fedcba9876543210',
    location: { uri: 'http://127.0.0.1:8123/' },
  },
];

describe('formatReport', () => {
  it('table: one aligned row per finding, location as path:line:column, empty for no findings', () => {
    const out = formatReport('table', findings, { tool });
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, /^src\/config dir\/app\.env:3:16\s+critical\s+openai-project-key\s+0123456789abcdef\s+OpenAI project API key$/);
    assert.match(lines[2]!, /^http:\/\/127\.0\.0\.1:8123\/\s+high\s+exposed-clickhouse/);
    assert.equal(lines[1]!.indexOf('critical'), lines[2]!.indexOf('high'));
    assert.equal(formatReport('table', [], { tool }), '');
  });

  it('json: tool, summary fields and findings round-trip', () => {
    const doc = JSON.parse(formatReport('json', findings, { tool, summary: { files: 2 } }));
    assert.deepEqual(doc.tool, { name: 'warden', version: '0.1.0' });
    assert.equal(doc.files, 2);
    assert.deepEqual(doc.findings, findings);
  });

  it('sarif: a 2.1.0 log GitHub code scanning accepts', () => {
    const log = JSON.parse(
      formatReport('sarif', findings, {
        tool,
        rules: [{ id: 'openai-project-key', title: 'OpenAI project API key', severity: 'critical', helpUri: 'https://platform.openai.com/api-keys' }],
      }),
    );
    assert.equal(log.version, '2.1.0');
    assert.match(log.$schema, /sarif-2\.1\.0/);
    const [run] = log.runs;
    assert.equal(run.tool.driver.name, 'warden');
    assert.equal(run.columnKind, 'utf16CodeUnits');
    const rules = run.tool.driver.rules;
    assert.deepEqual(
      rules.map((r: { id: string }) => r.id),
      ['openai-project-key', 'exposed-clickhouse'],
    );
    assert.equal(rules[0].properties['security-severity'], '9.5');
    assert.equal(rules[0].helpUri, 'https://platform.openai.com/api-keys');
    assert.equal(rules[0].defaultConfiguration.level, 'error');
    assert.equal(rules[1].shortDescription.text, 'ClickHouse HTTP interface without authentication');
    const [r0, r1] = run.results;
    assert.equal(r0.ruleIndex, 0);
    assert.equal(r1.ruleIndex, 1);
    assert.deepEqual(r0.locations[0].physicalLocation, {
      artifactLocation: { uri: 'src/config%20dir/app.env' },
      region: { startLine: 3, startColumn: 16, endLine: 3, endColumn: 180 },
    });
    assert.equal(r0.partialFingerprints[SARIF_FINGERPRINT_KEY], '0123456789abcdef');
    assert.equal(r1.locations[0].physicalLocation.artifactLocation.uri, 'http://127.0.0.1:8123/');
    assert.equal(r1.locations[0].physicalLocation.region, undefined);
    assert.equal(typeof r0.message.text, 'string');
  });

  it("carries a finding's confidence: SARIF rank and level, a table column, the reason for a low one", () => {
    const rated: ReportFinding[] = [
      { ...findings[0]!, confidence: 'high', reason: 'checksum verifies' },
      { ...findings[0]!, fingerprint: '1111111111111111', confidence: 'medium', reason: 'credential position' },
      { ...findings[0]!, fingerprint: '2222222222222222', confidence: 'low', reason: 'checksum does not verify' },
    ];
    const results = JSON.parse(formatReport('sarif', rated, { tool })).runs[0].results as Array<{
      rank: number;
      level: string;
      properties: { confidence: string; reason: string };
    }>;
    assert.deepEqual(
      results.map((r) => [r.rank, r.level, r.properties.confidence]),
      [
        [90, 'error'],
        [60, 'warning'],
        [20, 'note'],
      ].map(([rank, level], i) => [rank, level, rated[i]!.confidence]),
    );
    assert.equal(results[2]!.properties.reason, 'checksum does not verify');
    const table = formatReport('table', rated, { tool }).trimEnd().split('\n');
    assert.match(table[0]!, /FINGERPRINT\s+CONFIDENCE\s+TITLE/);
    assert.match(table[3]!, /2222222222222222\s+low\s+OpenAI project API key \(checksum does not verify\)$/);
  });
  it('sarif: an empty run still lists the tool and no results', () => {
    const log = JSON.parse(formatReport('sarif', [], { tool }));
    assert.deepEqual(log.runs[0].results, []);
    assert.deepEqual(log.runs[0].tool.driver.rules, []);
  });

  it('sarifUri: relative paths stay relative with forward slashes, absolute paths become file URIs', () => {
    assert.equal(sarifUri('a\\b #1.txt'), 'a/b%20%231.txt');
    assert.equal(sarifUri('/tmp/x y'), 'file:///tmp/x%20y');
  });
});
