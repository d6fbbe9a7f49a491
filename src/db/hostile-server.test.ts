// The connectors against servers that misbehave on purpose, over real loopback sockets: a ClickHouse
// look-alike that redirects elsewhere with the key attached.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startRecordingServer, startRedirector, type RecordingServer } from '../../test/helpers/recording-http.js';
import { openDatabase, parseDsn } from './index.js';

describe('db connectors against hostile servers', () => {
  const servers: RecordingServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  it('ClickHouse: a 307 to another origin is refused; the key never reaches it', async () => {
    const elsewhere = await startRecordingServer((_req, res) => res.end('1\n'));
    const lookAlike = await startRedirector(elsewhere.origin);
    servers.push(elsewhere, lookAlike);
    const dsn = parseDsn(`clickhouse://default@127.0.0.1:${lookAlike.port}/`, { CLICKHOUSE_PASSWORD: 'clickhouse-key-for-this-host' });
    await assert.rejects(openDatabase(dsn), /redirect refused: HTTP 307 to http:\/\/127\.0\.0\.1:\d+/);
    assert.equal(lookAlike.requests.length, 1);
    assert.equal(elsewhere.requests.length, 0, 'nothing was sent to the redirect target');
  });
});
