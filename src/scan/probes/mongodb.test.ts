// MongoDB is not packaged by Debian: these tests run against test/servers/mongodb.ts, a server written from
// the documented OP_MSG wire format. Its BSON comes from src/scan/transports/bson.ts, checked here against the
// bsonspec.org example bytes. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { chatLogWithKey, probeContext } from '../../../test/helpers/probe-context.js';
import { startTestMongo, type MongoData, type TestMongo } from '../../../test/servers/mongodb.js';
import { BsonError, decodeBson, encodeBson } from '../transports/bson.js';
import { mongodbProbe } from './mongodb.js';

const WRITE_COMMANDS = /^(insert|update|delete|drop|create|findAndModify|aggregate|eval|renameCollection)/i;

describe('BSON', () => {
  it('encodes and decodes the bsonspec.org example {"hello": "world"}', () => {
    const bytes = Buffer.from('\x16\x00\x00\x00\x02hello\x00\x06\x00\x00\x00world\x00\x00', 'latin1');
    assert.deepEqual(encodeBson({ hello: 'world' }), bytes);
    assert.deepEqual(decodeBson(bytes).doc, { hello: 'world' });
  });

  it('rejects a document whose length runs past the buffer', () => {
    assert.throws(() => decodeBson(Buffer.from('ff0000000268000500000077', 'hex')), BsonError);
  });
});

describe('mongodb probe', () => {
  const data: MongoData = {
    gateway: {
      chat_logs: [
        { user: 'u1', body: chatLogWithKey(4) },
        { user: 'u2', body: 'plain text' },
      ],
      users: [{ name: 'alice' }],
    },
  };
  let open: TestMongo;
  let locked: TestMongo;
  let lockedEmpty: TestMongo;
  before(async () => {
    open = await startTestMongo({ mode: 'open', data, port: 27117 });
    locked = await startTestMongo({ mode: 'locked', data });
    lockedEmpty = await startTestMongo({ mode: 'locked-empty', data });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close(), lockedEmpty?.close()]);
  });

  it('fingerprints MongoDB with hello on a non-default port', async () => {
    const fp = await mongodbProbe.fingerprint(probeContext(open.port));
    assert.equal(fp?.service, 'mongodb');
    assert.equal(fp?.details?.maxWireVersion, 21);
    assert.equal(open.commands[0], 'hello');
  });

  it('reports an open MongoDB as high with databases, collections and counts, reading no document', async () => {
    const ctx = probeContext(open.port);
    const a = await mongodbProbe.assess(ctx, (await mongodbProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases, [
      {
        name: 'gateway',
        tables: [
          { name: 'chat_logs', rows: 2 },
          { name: 'users', rows: 1 },
        ],
      },
    ]);
    assert.ok(!open.commands.includes('find'));
    assert.match(a.reproduce ?? '', /^mongosh "mongodb:\/\/127\.0\.0\.1:27117\/admin"/);
  });

  it('with --sample reports critical with credential counts and chat fields, keeping no value', async () => {
    const ctx = probeContext(open.port, { maxLevel: 'sample', sample: 5 });
    const a = await mongodbProbe.assess(ctx, (await mongodbProbe.fingerprint(ctx))!);
    assert.equal(a.severity, 'critical');
    const logs = a.evidence.databases?.[0]?.tables[0];
    assert.equal(logs?.sampledRows, 2);
    assert.deepEqual(logs?.credentials, { total: 1, byRule: { 'openai-project-key': 1 } });
    assert.deepEqual(logs?.conversationColumns, ['body']);
    assert.doesNotMatch(JSON.stringify(a), /sk-proj-/);
    assert.deepEqual(
      open.commands.filter((c) => WRITE_COMMANDS.test(c)),
      [],
    );
  });

  it('reports Unauthorized (code 13) as auth required', async () => {
    const ctx = probeContext(locked.port, { maxLevel: 'sample', sample: 5 });
    const a = await mongodbProbe.assess(ctx, (await mongodbProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.match(a.evidence.notes.join(' '), /code 13 Unauthorized/);
    assert.deepEqual(locked.commands, ['hello', 'listDatabases']);
  });

  it('does not call an empty database list on an auth-enabled server an exposure', async () => {
    const ctx = probeContext(lockedEmpty.port);
    const a = await mongodbProbe.assess(ctx, (await mongodbProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.equal(a.evidence.databases, undefined);
  });

  itFindsNothingOnHostilePeers(mongodbProbe, () => startTestMongo({ mode: 'garbage' }));
});
