/**
 * Look-alikes: peers that give the first plausible answer a probe expects and then anything else. One
 * plausible byte string is not proof of open access: each is reported as the service with `auth: unknown`
 * (never dropped, never open). Written from each vendor's wire format (test/servers/hostile.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { http200, startLookAlike, type TestServer } from '../../../test/servers/hostile.js';
import { scan } from '../index.js';
import type { Probe } from '../types.js';
import { cassandraProbe } from './cassandra.js';
import { clickhouseHttp } from './clickhouse-http.js';
import { jupyterProbe } from './jupyter.js';
import { etcdProbe } from './etcd.js';
import { memcachedProbe } from './memcached.js';
import { minioProbe } from './minio.js';
import { mqttProbe } from './mqtt.js';
import { mysqlProbe } from './mysql.js';
import { natsProbe } from './nats.js';
import { postgresql } from './postgresql.js';
import { prometheusProbe } from './prometheus.js';
import { rabbitmqAmqpProbe } from './rabbitmq-amqp.js';
import { redis } from './redis.js';

/** What a request asked for: its method and path, from the request line. */
const requestLine = (req: Buffer) => req.toString('latin1').split('\r\n')[0] ?? '';
const PROMETHEUS_REPLAY: Array<[RegExp, object]> = [
  [/ \/api\/v1\/status\/buildinfo /, { status: 'success', data: { version: '2.45.0', goVersion: 'go1.21.3' } }],
  [/ \/api\/v1\/targets/, { status: 'success', data: { activeTargets: [{ labels: { job: 'node' } }] } }],
  [/ \/api\/v1\/query/, { status: 'success', data: { resultType: 'scalar', result: [1700000000, '42'] } }],
];
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const PG_READY = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
/** PostgreSQL backend messages a look-alike can send to anyone: AuthenticationOk, then CommandComplete for every query. */
function pgLookAlike(req: Buffer): Buffer {
  if (req.subarray(0, 8).equals(SSL_REQUEST)) return Buffer.from('N');
  if (req[0] !== 0x51) return Buffer.concat([Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]), PG_READY]);
  const tag = Buffer.from('BEGIN\0');
  return Buffer.concat([Buffer.from([0x43, 0, 0, 0, 4 + tag.length]), tag, PG_READY]);
}
/** A MySQL packet: 3-byte length, sequence id, payload. */
const mysqlPacket = (seq: number, payload: Buffer) => Buffer.concat([Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, 0, seq]), payload]);
/** Handshake v10 as MySQL 5.7 sends it (protocol 41, secure connection, plugin auth mysql_native_password). */
const MYSQL_GREETING = mysqlPacket(
  0,
  Buffer.concat([
    Buffer.from([0x0a]),
    Buffer.from('5.7.44-log\0'),
    Buffer.from([1, 0, 0, 0]),
    Buffer.alloc(8, 0x41),
    Buffer.from([0x00, 0xff, 0xf7, 0x21, 0x02, 0x00, 0xff, 0x81, 21]),
    Buffer.alloc(10),
    Buffer.alloc(12, 0x42),
    Buffer.from([0]),
    Buffer.from('mysql_native_password\0'),
  ]),
);
/** OK: no rows affected, autocommit on. What a look-alike answers the login and every query with. */
const mysqlOk = (seq: number) => mysqlPacket(seq, Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]));
/** An AMQP 0-9-1 Connection method frame on channel 0. */
function amqpConnectionMethod(methodId: number, args: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from([0, 10, 0, methodId]), args]);
  const header = Buffer.from([1, 0, 0, 0, 0, 0, 0]);
  header.writeUInt32BE(payload.length, 3);
  return Buffer.concat([header, payload, Buffer.from([0xce])]);
}
const longStr = (text: string) => Buffer.concat([Buffer.from([0, 0, 0, text.length]), Buffer.from(text)]);
/** Connection.Start 0-9, product RabbitMQ, offering ANONYMOUS; then Connection.Tune, the answer to anything. */
const AMQP_START = amqpConnectionMethod(
  10,
  Buffer.concat([Buffer.from([0, 9]), longStr(`\x07productS${longStr('RabbitMQ').toString('latin1')}`), longStr('ANONYMOUS PLAIN'), longStr('en_US')]),
);
const AMQP_TUNE = amqpConnectionMethod(30, Buffer.from([0, 0x7f, 0, 2, 0, 0, 0, 60]));
const REDIS_INFO = '# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n';
/** A CQL v4 response frame (stream 0) with `opcode` and `body`. */
function cqlFrame(opcode: number, body = Buffer.alloc(0)): Buffer {
  const head = Buffer.from([0x84, 0, 0, 0, opcode, 0, 0, 0, 0]);
  head.writeInt32BE(body.length, 5);
  return Buffer.concat([head, body]);
}
const cqlString = (s: string) => Buffer.concat([Buffer.from([0, s.length]), Buffer.from(s)]);
/** SUPPORTED {CQL_VERSION: [3.4.5]}: what Cassandra answers OPTIONS with. */
const CQL_SUPPORTED = cqlFrame(0x06, Buffer.concat([Buffer.from([0, 1]), cqlString('CQL_VERSION'), Buffer.from([0, 1]), cqlString('3.4.5')]));
const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;

async function assertUnproven(probe: Probe, server: Promise<TestServer>): Promise<void> {
  const look = await server;
  try {
    const report = await scan({ targets: [`127.0.0.1:${look.port}`], probes: [probe], timeoutMs: 500 });
    const [f] = report.findings;
    assert.equal(report.findings.length, 1, JSON.stringify(report.findings));
    assert.deepEqual([f?.service, f?.auth, f?.severity], [probe.service, 'unknown', 'info'], JSON.stringify(f));
  } finally {
    await look.close();
  }
}

describe('look-alikes are not open services', { timeout: 60_000 }, () => {
  it('Redis: +PONG to the first command, random bytes after', () =>
    assertUnproven(
      redis,
      startLookAlike((_, i) => (i === 0 ? '+PONG\r\n' : randomBytes(64))),
    ));

  it('Redis: +PONG to the first command, a well-formed bulk string with no redis_version after', () =>
    assertUnproven(
      redis,
      startLookAlike((_, i) => (i === 0 ? '+PONG\r\n' : bulk('hello'))),
    ));

  it('Redis: a real-looking INFO, but DBSIZE answered with a string', () =>
    assertUnproven(
      redis,
      startLookAlike((req) => (req.includes('PING') ? '+PONG\r\n' : req.includes('INFO') ? bulk(REDIS_INFO) : bulk('garbage'))),
    ));

  it('Cassandra: SUPPORTED to OPTIONS, then READY to every other frame (the schema query included)', () =>
    assertUnproven(
      cassandraProbe,
      startLookAlike((req) => (req[4] === 0x05 ? CQL_SUPPORTED : cqlFrame(0x02))),
    ));

  it('memcached: a VERSION line, then a single STAT line', () =>
    assertUnproven(
      memcachedProbe,
      startLookAlike((req) => (req.toString().startsWith('version') ? 'VERSION 1.6.21\r\n' : 'STAT pid 1\r\nEND\r\n')),
    ));

  it('ClickHouse HTTP: Ok. to /ping and a version-shaped string to every query', () =>
    assertUnproven(
      clickhouseHttp,
      startLookAlike((req) => http200(req.includes('GET /ping ') ? 'Ok.\n' : '24.3.1.1\n')),
    ));

  it('ClickHouse HTTP: a version and a number, but not the product asked for', () =>
    assertUnproven(
      clickhouseHttp,
      startLookAlike((req) => http200(req.includes('GET /ping ') ? 'Ok.\n' : '24.3.1.1\t42\n')),
    ));

  it('Jupyter: {"version"} at /api and an empty list at every other path', () =>
    assertUnproven(
      jupyterProbe,
      startLookAlike((req) => http200(/ \/api /.test(requestLine(req)) ? '{"version":"2.14.0"}' : '[]')),
    ));

  it('Prometheus: recorded answers replayed, but not the product asked for', () =>
    assertUnproven(
      prometheusProbe,
      startLookAlike((req) => http200(JSON.stringify(PROMETHEUS_REPLAY.find(([path]) => path.test(requestLine(req)))?.[1] ?? {}))),
    ));

  it('MQTT: CONNACK 0 to every packet, and a SUBACK for some other packet id', () =>
    assertUnproven(
      mqttProbe,
      startLookAlike((req) => (req[0] === 0x82 ? Buffer.from([0x90, 0x03, req[2]! ^ 0xff, req[3]!, 0x00]) : Buffer.from([0x20, 0x02, 0x00, 0x00]))),
    ));

  it('NATS: an INFO greeting, then PONG to everything (no message ever comes back)', () =>
    assertUnproven(
      natsProbe,
      startLookAlike(() => 'PONG\r\n', { greeting: 'INFO {"server_id":"NLOOKALIKE","version":"2.10.7","auth_required":false,"max_payload":1048576}\r\n' }),
    ));

  it('PostgreSQL: AuthenticationOk to the login and CommandComplete to every query', () => assertUnproven(postgresql, startLookAlike(pgLookAlike)));

  it('MySQL: a Handshake v10 greeting, then OK to the login and to every query', () =>
    assertUnproven(
      mysqlProbe,
      startLookAlike((req) => mysqlOk(req[3]! + 1), { greeting: MYSQL_GREETING }),
    ));

  it('RabbitMQ (AMQP): Connection.Start offering ANONYMOUS, then Connection.Tune to every frame', () =>
    assertUnproven(
      rabbitmqAmqpProbe,
      startLookAlike((req) => (req.subarray(0, 4).toString() === 'AMQP' ? AMQP_START : AMQP_TUNE)),
    ));

  it('etcd: a /version answer, then {"header":{}} to the range', () =>
    assertUnproven(
      etcdProbe,
      startLookAlike((req) => http200(/ \/version /.test(requestLine(req)) ? '{"etcdserver":"3.5.9","etcdcluster":"3.5.0"}' : '{"header":{},"count":"3"}')),
    ));

  it('MinIO: an empty ListAllMyBucketsResult element to every path', () =>
    assertUnproven(
      minioProbe,
      startLookAlike(() => http200('<ListAllMyBucketsResult></ListAllMyBucketsResult>')),
    ));
});
