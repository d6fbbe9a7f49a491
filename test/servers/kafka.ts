/**
 * A Kafka broker test server following the documented protocol (https://kafka.apache.org/protocol):
 * size-prefixed requests with header v1 (api_key, api_version, correlation_id, client_id), answering
 * ApiVersions v0 (key 18), Metadata v1 (key 3) and SaslHandshake v0/v1 (key 17).
 *
 * Modes:
 * - open: a PLAINTEXT listener; Metadata lists brokers and topics.
 * - locked: a SASL listener. As brokers do since KIP-35/KIP-43, it answers ApiVersions and SaslHandshake
 *   before authentication and closes the connection on any other request.
 * - garbage: answers any request with bytes that are not a Kafka response.
 */
import { createServer, type Socket } from 'node:net';
import { listenLoopback, type TestServer } from './hostile.js';

export type KafkaMode = 'open' | 'locked' | 'garbage';

export interface TestKafka extends TestServer {
  /** API keys of every request received, in order. */
  apiKeys: number[];
}

const str = (s: string) => {
  const b = Buffer.alloc(2 + Buffer.byteLength(s));
  b.writeInt16BE(Buffer.byteLength(s));
  b.write(s, 2);
  return b;
};
const i16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const array = (items: Buffer[]) => Buffer.concat([i32(items.length), ...items]);

const SUPPORTED_APIS: Array<[number, number, number]> = [
  [0, 0, 9],
  [1, 0, 13],
  [3, 0, 12],
  [17, 0, 1],
  [18, 0, 3],
  [36, 0, 2],
];

function respond(socket: Socket, correlationId: number, body: Buffer): void {
  socket.write(Buffer.concat([i32(4 + body.length), i32(correlationId), body]));
}

export async function startTestKafka(opts: { mode: KafkaMode; topics?: Record<string, number>; port?: number }): Promise<TestKafka> {
  const apiKeys: number[] = [];
  const topics = opts.topics ?? {};
  const server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const request = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + request.length);
        if (opts.mode === 'garbage') {
          socket.write('HTTP/1.1 400 Bad Request\r\n\r\n');
          continue;
        }
        const apiKey = request.readInt16BE(0);
        const correlationId = request.readInt32BE(4);
        apiKeys.push(apiKey);
        if (apiKey === 18) {
          respond(socket, correlationId, Buffer.concat([i16(0), array(SUPPORTED_APIS.map(([k, min, max]) => Buffer.concat([i16(k), i16(min), i16(max)])))]));
        } else if (apiKey === 17) {
          const enabled = opts.mode === 'locked' ? ['PLAIN', 'SCRAM-SHA-256'] : [];
          // UNSUPPORTED_SASL_MECHANISM (33) on a PLAINTEXT listener, which has no mechanism enabled.
          respond(socket, correlationId, Buffer.concat([i16(opts.mode === 'locked' ? 0 : 33), array(enabled.map(str))]));
        } else if (apiKey === 3 && opts.mode === 'open') {
          const broker = Buffer.concat([i32(1), str('kafka-0.internal.example'), i32(9092), i16(-1)]);
          const topicEntries = Object.entries(topics).map(([name, partitions]) =>
            Buffer.concat([
              i16(0),
              str(name),
              Buffer.from([0]),
              array(Array.from({ length: partitions }, (_, p) => Buffer.concat([i16(0), i32(p), i32(1), array([i32(1)]), array([i32(1)])]))),
            ]),
          );
          respond(socket, correlationId, Buffer.concat([array([broker]), i32(1), array(topicEntries)]));
        } else {
          socket.destroy();
          return;
        }
      }
    });
  });
  const listening = await listenLoopback(server, opts.port);
  return { ...listening, apiKeys };
}
