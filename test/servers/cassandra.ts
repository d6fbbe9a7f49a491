/**
 * A Cassandra test server speaking the CQL native protocol v4, as specified in native_protocol_v4.spec
 * (https://github.com/apache/cassandra/blob/trunk/doc/native_protocol_v4.spec): 9-byte frame headers,
 * OPTIONS -> SUPPORTED, STARTUP -> READY (AllowAllAuthenticator) or AUTHENTICATE (PasswordAuthenticator),
 * AUTH_RESPONSE with a SASL PLAIN token -> AUTH_SUCCESS or ERROR 0x0100, and QUERY on
 * system_schema.tables -> RESULT Rows. Any other query is ERROR 0x2200 (invalid).
 *
 * Modes: open (no authenticator), locked (PasswordAuthenticator with the given credentials), garbage.
 */
import { createServer, type Socket } from 'node:net';
import { listenLoopback, type TestServer } from './hostile.js';

export type CassandraMode = 'open' | 'locked' | 'garbage';

export interface TestCassandra extends TestServer {
  /** Every QUERY string received. */
  queries: string[];
}

const short = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const int = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const string = (s: string) => Buffer.concat([short(Buffer.byteLength(s)), Buffer.from(s)]);
const bytes = (b: Buffer) => Buffer.concat([int(b.length), b]);

function frame(socket: Socket, stream: number, opcode: number, body: Buffer): void {
  const head = Buffer.alloc(9);
  head[0] = 0x84;
  head.writeInt16BE(stream, 2);
  head[4] = opcode;
  head.writeInt32BE(body.length, 5);
  socket.write(Buffer.concat([head, body]));
}

const error = (code: number, message: string) => Buffer.concat([int(code), string(message)]);

export async function startTestCassandra(opts: {
  mode: CassandraMode;
  /** Keyspace to table names (system keyspaces are added). */
  keyspaces?: Record<string, string[]>;
  /** Locked mode: the `user:password` PasswordAuthenticator accepts. */
  credentials?: string;
  port?: number;
}): Promise<TestCassandra> {
  const queries: string[] = [];
  const schema: Record<string, string[]> = { system: ['local', 'peers'], system_schema: ['tables', 'keyspaces'], ...opts.keyspaces };
  const server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let ready = false;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9 && buffered.length >= 9 + buffered.readInt32BE(5)) {
        const stream = buffered.readInt16BE(2);
        const opcode = buffered[4]!;
        const body = buffered.subarray(9, 9 + buffered.readInt32BE(5));
        buffered = buffered.subarray(9 + body.length);
        if (opts.mode === 'garbage') {
          socket.write('\x15\x03garbage');
          continue;
        }
        switch (opcode) {
          case 0x05:
            frame(
              socket,
              stream,
              0x06,
              Buffer.concat([
                short(2),
                string('CQL_VERSION'),
                short(1),
                string('3.4.5'),
                string('PROTOCOL_VERSIONS'),
                short(2),
                string('3/v3'),
                string('4/v4'),
              ]),
            );
            break;
          case 0x01:
            ready = opts.mode === 'open';
            if (ready) frame(socket, stream, 0x02, Buffer.alloc(0));
            else frame(socket, stream, 0x03, string('org.apache.cassandra.auth.PasswordAuthenticator'));
            break;
          case 0x0f: {
            const token = body
              .subarray(4, 4 + body.readInt32BE(0))
              .toString('utf8')
              .split('\0');
            if (`${token[1]}:${token[2]}` === opts.credentials) {
              ready = true;
              frame(socket, stream, 0x10, bytes(Buffer.alloc(0)));
            } else frame(socket, stream, 0x00, error(0x0100, 'Provided username and/or password are incorrect'));
            break;
          }
          case 0x07: {
            const query = body.subarray(4, 4 + body.readInt32BE(0)).toString('utf8');
            queries.push(query);
            if (!ready) frame(socket, stream, 0x00, error(0x000a, 'Unexpected message QUERY, expecting SASL_RESPONSE'));
            else if (!/^SELECT keyspace_name, table_name FROM system_schema\.tables/.test(query))
              frame(socket, stream, 0x00, error(0x2200, 'unsupported by the test server'));
            else {
              const rows = Object.entries(schema).flatMap(([ks, tables]) => tables.map((t) => Buffer.concat([bytes(Buffer.from(ks)), bytes(Buffer.from(t))])));
              const metadata = Buffer.concat([
                int(0x0001),
                int(2),
                string('system_schema'),
                string('tables'),
                string('keyspace_name'),
                short(0x000d),
                string('table_name'),
                short(0x000d),
              ]);
              frame(socket, stream, 0x08, Buffer.concat([int(0x0002), metadata, int(rows.length), ...rows]));
            }
            break;
          }
          default:
            frame(socket, stream, 0x00, error(0x000a, 'unsupported opcode in the test server'));
        }
      }
    });
  });
  const listening = await listenLoopback(server, opts.port);
  return { ...listening, queries };
}
