import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCriticalExposure } from '../incident/index.js';
import { rateExposure, secretsOrChat, sensitiveTables } from './evidence.js';
import type { DatabaseEvidence, Finding } from './types.js';

const databases: DatabaseEvidence[] = [
  {
    name: 'logs',
    tables: [
      { name: 'keys', rows: 10, sampledRows: 10, credentials: { total: 2, byRule: { 'openai-project-key': 2 } } },
      { name: 'chats', rows: 5, sampledRows: 5, credentials: { total: 0, byRule: {} }, conversationColumns: ['messages'] },
      // Beyond the sampled tables: a column named like chat, no row read.
      { name: 'archive', rows: 900, conversationColumns: ['prompt'] },
      { name: 'metrics', rows: 3, sampledRows: 3, credentials: { total: 0, byRule: {} } },
    ],
  },
];

const finding = (dbs: DatabaseEvidence[]): Finding => ({
  id: 'clickhouse:127.0.0.1:8123',
  host: '127.0.0.1',
  port: 8123,
  service: 'clickhouse',
  probe: 'clickhouse-http',
  title: 'ClickHouse open',
  auth: 'none',
  severity: rateExposure('none', 'data-store', { databases: dbs, notes: [] }),
  evidence: { databases: dbs, notes: [] },
  remediation: 'Set a password.',
});

describe('the one "table holds credentials or chat" decision', () => {
  it('is proof from sampled rows, a hint from column names alone, and nothing otherwise', () => {
    assert.deepEqual(databases[0]!.tables.map(secretsOrChat), ['sampled', 'sampled', 'by-name', false]);
    assert.deepEqual(
      sensitiveTables(databases, 'sampled').map((t) => t.table.name),
      ['keys', 'chats'],
    );
    assert.deepEqual(
      sensitiveTables(databases, 'by-name').map((t) => `${t.database}.${t.table.name}`),
      ['logs.keys', 'logs.chats', 'logs.archive'],
    );
  });

  it('makes scan and incident response agree: critical exactly when sampled rows prove it', () => {
    const proven = finding(databases);
    assert.equal(proven.severity, 'critical');
    assert.equal(isCriticalExposure(proven), true);
    // Only a name says chat: high for the scan, and so not an incident to open.
    const named = finding([{ name: 'logs', tables: [databases[0]!.tables[2]!] }]);
    assert.equal(named.severity, 'high');
    assert.equal(isCriticalExposure({ ...named, severity: 'critical' }), false);
  });
});
