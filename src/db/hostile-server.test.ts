// The connectors against servers that misbehave on purpose, over real loopback sockets: a ClickHouse
// look-alike that redirects elsewhere with the key attached, a PostgreSQL that asks for a password.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
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

/** A PostgreSQL look-alike that asks for a cleartext password and records the startup parameters and the password it is sent. */
async function startPasswordHungryPostgres(): Promise<{ port: number; startup: Record<string, string>[]; passwords: string[]; close(): Promise<void> }> {
  const startup: Record<string, string>[] = [];
  const passwords: string[] = [];
  const server = createServer((socket) => {
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!started) {
        if (buffer.length < 4 || buffer.length < buffer.readInt32BE(0)) return;
        const fields = buffer.toString('utf8', 8, buffer.readInt32BE(0) - 1).split('\0');
        const params: Record<string, string> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) params[fields[i]!] = fields[i + 1]!;
        startup.push(params);
        buffer = buffer.subarray(buffer.readInt32BE(0));
        started = true;
        const ask = Buffer.alloc(9);
        ask.write('R', 0);
        ask.writeInt32BE(8, 1);
        ask.writeInt32BE(3, 5); // AuthenticationCleartextPassword
        socket.write(ask);
      }
      if (buffer.length >= 5 && buffer[0] === 0x70 && buffer.length >= 1 + buffer.readInt32BE(1)) {
        passwords.push(buffer.toString('utf8', 5, buffer.readInt32BE(1)).replace(/\0$/, ''));
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, startup, passwords, close: () => new Promise((r) => server.close(() => r())) };
}

describe('db connectors take nothing from the environment but the Dsn', () => {
  it('PostgreSQL: PGPASSWORD and PGDATABASE in the process environment never reach a server the Dsn has no password for', async () => {
    const server = await startPasswordHungryPostgres();
    const saved = { PGPASSWORD: process.env.PGPASSWORD, PGDATABASE: process.env.PGDATABASE };
    process.env.PGPASSWORD = 'password-of-wardens-own-store';
    process.env.PGDATABASE = 'warden_store';
    try {
      const dsn = parseDsn(`postgres://postgres@127.0.0.1:${server.port}/`, {});
      await assert.rejects(openDatabase(dsn, {}), /asked for a password and none is configured/);
      assert.deepEqual(server.passwords, [], 'no password was sent');
      assert.equal(server.startup[0]?.database, 'postgres', 'the database is the user name, as the Dsn leaves it, not PGDATABASE');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await server.close();
    }
  });
});
