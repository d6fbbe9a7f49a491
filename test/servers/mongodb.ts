/**
 * A MongoDB test server speaking the documented wire protocol: OP_MSG (opcode 2013) with a single kind-0
 * body section, as in https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/ , BSON per
 * https://bsonspec.org/spec.html . It answers `hello`, `listDatabases`, `listCollections`, `count` and
 * `find` from in-memory data; everything else gets CommandNotFound (code 59).
 *
 * Modes:
 * - open: no access control; every command answers.
 * - locked: access control on; `hello` answers (as mongod does), everything else is
 *   Unauthorized (code 13, "command X requires authentication").
 * - locked-empty: access control on, but `listDatabases` answers ok:1 with an empty list, as servers do for
 *   a client authorised for no database. Must not be reported as an exposure.
 * - garbage: answers any message with bytes that are not an OP_MSG.
 */
import { createServer, type Socket } from 'node:net';
import { decodeBson, encodeBson, type BsonDocument } from '../../src/scan/transports/bson.js';
import { listenLoopback, type TestServer } from './hostile.js';

const OP_MSG = 2013;

export type MongoMode = 'open' | 'locked' | 'locked-empty' | 'garbage';

/** Database name to collection name to documents. */
export type MongoData = Record<string, Record<string, BsonDocument[]>>;

export interface TestMongo extends TestServer {
  /** Every command name received, in order (tests assert no write was ever sent). */
  commands: string[];
}

function reply(socket: Socket, requestId: number, doc: BsonDocument): void {
  const body = encodeBson(doc);
  const header = Buffer.alloc(21);
  header.writeInt32LE(21 + body.length, 0);
  header.writeInt32LE(Math.floor(Math.random() * 0x7fffffff), 4);
  header.writeInt32LE(requestId, 8);
  header.writeInt32LE(OP_MSG, 12);
  header.writeUInt32LE(0, 16);
  header[20] = 0;
  socket.write(Buffer.concat([header.subarray(0, 20), Buffer.from([0]), body]));
}

function answer(mode: MongoMode, data: MongoData, cmd: BsonDocument, name: string): BsonDocument {
  if (name === 'hello' || name === 'isMaster' || name === 'ismaster') {
    return {
      isWritablePrimary: true,
      ismaster: true,
      maxBsonObjectSize: 16777216,
      maxMessageSizeBytes: 48000000,
      minWireVersion: 0,
      maxWireVersion: 21,
      readOnly: false,
      ok: 1,
    };
  }
  if (mode === 'locked-empty' && name === 'listDatabases') return { databases: [], totalSize: 0, ok: 1 };
  if (mode !== 'open') return { ok: 0, errmsg: `command ${name} requires authentication`, code: 13, codeName: 'Unauthorized' };
  const db = String(cmd.$db ?? '');
  switch (name) {
    case 'listDatabases': {
      const names = ['admin', 'config', 'local', ...Object.keys(data)];
      return { databases: names.map((n) => ({ name: n, sizeOnDisk: 8192, empty: false })), totalSize: names.length * 8192, ok: 1 };
    }
    case 'listCollections':
      return {
        cursor: { id: 0n, ns: `${db}.$cmd.listCollections`, firstBatch: Object.keys(data[db] ?? {}).map((n) => ({ name: n, type: 'collection' })) },
        ok: 1,
      };
    case 'count':
      return { n: data[db]?.[String(cmd.count)]?.length ?? 0, ok: 1 };
    case 'find': {
      const docs = data[db]?.[String(cmd.find)] ?? [];
      return { cursor: { id: 0n, ns: `${db}.${String(cmd.find)}`, firstBatch: docs.slice(0, Number(cmd.limit ?? docs.length)) }, ok: 1 };
    }
    default:
      return { ok: 0, errmsg: `no such command: '${name}'`, code: 59, codeName: 'CommandNotFound' };
  }
}

export async function startTestMongo(opts: { mode: MongoMode; data?: MongoData; port?: number }): Promise<TestMongo> {
  const commands: string[] = [];
  const server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= buffered.readInt32LE(0)) {
        // Like mongod, a message length that cannot hold an OP_MSG (or is absurdly large) ends the connection.
        const length = buffered.readInt32LE(0);
        if (length < 21 || length > 48_000_000) {
          socket.destroy();
          return;
        }
        const message = buffered.subarray(0, length);
        buffered = buffered.subarray(message.length);
        if (opts.mode === 'garbage') {
          socket.write(Buffer.from('not a mongo reply\r\n'));
          continue;
        }
        if (message.readInt32LE(12) !== OP_MSG || message[20] !== 0) {
          socket.destroy();
          return;
        }
        let doc: BsonDocument;
        try {
          doc = decodeBson(message, 21).doc;
        } catch {
          socket.destroy();
          return;
        }
        const name = Object.keys(doc)[0] ?? '';
        commands.push(name);
        reply(socket, message.readInt32LE(4), answer(opts.mode, opts.data ?? {}, doc, name));
      }
    });
  });
  const listening = await listenLoopback(server, opts.port);
  return { ...listening, commands };
}
