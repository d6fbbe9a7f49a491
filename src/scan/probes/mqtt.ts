/**
 * MQTT 3.1.1 brokers (Mosquitto, EMQX, HiveMQ, …) on 1883. MQTT has no greeting, so identifying a broker
 * already takes a CONNECT: one with no username or password and a random client id, clean session; the
 * CONNACK return code says whether anonymous clients are accepted (0) or refused (4, 5). An accepted
 * connection is closed at once with DISCONNECT. The probe never subscribes and never publishes.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { isFailure } from '../transports/result.js';
import { connectTcp, TcpConnection } from '../transports/tcp.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const DISCONNECT = Buffer.from([0xe0, 0x00]);
const RETURN_CODES = [
  'accepted',
  'unacceptable protocol version',
  'client identifier rejected',
  'server unavailable',
  'bad user name or password',
  'not authorised',
];

/** CONNECT, protocol level 4 (3.1.1), clean session, keep-alive 10 s, no will, no credentials. */
function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const variable = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x0a]);
  const payload = Buffer.concat([Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  const remaining = variable.length + payload.length;
  return Buffer.concat([Buffer.from([0x10, remaining]), variable, payload]);
}

/** SUBSCRIBE (QoS 0) to one topic, with packet id `id`. */
function subscribePacket(id: number, topic: string): Buffer {
  const name = Buffer.from(topic, 'utf8');
  const body = Buffer.concat([Buffer.from([id >> 8, id & 0xff, name.length >> 8, name.length & 0xff]), name, Buffer.from([0x00])]);
  return Buffer.concat([Buffer.from([0x82, body.length]), body]);
}

/**
 * The CONNACK return code (undefined when the reply is not a 3.1.1 CONNACK), and with `prove`, after an
 * accepted CONNECT, whether a SUBSCRIBE to a random topic got its SUBACK: four CONNACK bytes are easy to
 * fake, a SUBACK that echoes a random packet id is not. Clean session: the subscription ends with it.
 */
async function connectAnonymously(ctx: ProbeContext, prove = false): Promise<{ code: number; subscribed?: 'granted' | 'refused' } | undefined> {
  const conn = await connectTcp(ctx.host, ctx.port, { timeoutMs: ctx.timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  if (!(conn instanceof TcpConnection)) return undefined;
  try {
    conn.write(connectPacket(`warden-${randomBytes(6).toString('hex')}`));
    const ack = await conn.read((b) => (b.length >= 4 ? 4 : 0), { timeoutMs: ctx.timeoutMs, maxBytes: 64 });
    // CONNACK: type 2, remaining length 2, session-present flag 0 or 1, return code 0..5.
    if (isFailure(ack) || ack[0] !== 0x20 || ack[1] !== 0x02 || ack[2]! > 1 || ack[3]! >= RETURN_CODES.length) return undefined;
    const code = ack[3]!;
    if (code !== 0 || !prove) {
      if (code === 0) conn.write(DISCONNECT);
      return { code };
    }
    const id = randomInt(1, 0x10000);
    conn.write(subscribePacket(id, `warden-scan/${randomBytes(8).toString('hex')}`));
    // SUBACK: type 9, remaining length 3, our packet id, then 0-2 (granted QoS) or 0x80 (refused).
    const sub = await conn.read((b) => (b.length >= 5 ? 5 : 0), { timeoutMs: ctx.timeoutMs, maxBytes: 64 });
    conn.write(DISCONNECT);
    if (isFailure(sub) || sub[0] !== 0x90 || sub[1] !== 0x03 || sub.readUInt16BE(2) !== id || !(sub[4]! <= 2 || sub[4] === 0x80)) return { code };
    return { code, subscribed: sub[4] === 0x80 ? 'refused' : 'granted' };
  } finally {
    conn.close();
  }
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const answer = await connectAnonymously(ctx);
  return answer === undefined ? undefined : { service: 'mqtt', details: { connack: RETURN_CODES[answer.code]! } };
}

async function assess(ctx: ProbeContext, _fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { notes: [] };
  const reproduce = `mosquitto_sub -h ${ctx.host} -p ${ctx.port} -t '$SYS/broker/version' -C 1 -W 5   # connects anonymously; "not authorised" when locked`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('MQTT broker', evidence);
  const answer = await connectAnonymously(ctx, true);
  if (answer === undefined) return accessUnclear('MQTT broker', evidence, 'no CONNACK on reconnect');
  const { code, subscribed } = answer;
  if (code === 4 || code === 5) return authRequired('MQTT broker', evidence, `anonymous CONNECT refused (CONNACK ${code}: ${RETURN_CODES[code]})`, reproduce);
  if (code !== 0) return accessUnclear('MQTT broker', evidence, `anonymous CONNECT answered CONNACK ${code}: ${RETURN_CODES[code]}`);
  if (!subscribed) return accessUnclear('MQTT broker', evidence, 'CONNACK 0, but a SUBSCRIBE got no SUBACK for its packet id: no proof of a session');
  evidence.notes.push(
    subscribed === 'granted'
      ? 'anonymous CONNECT accepted (CONNACK 0) and a SUBSCRIBE granted: anyone can subscribe to every topic and publish'
      : 'anonymous CONNECT accepted (CONNACK 0); an ACL refused the test SUBSCRIBE, other topics may be open',
  );
  return { auth: 'none', severity: rateExposure('none', 'broker'), title: 'MQTT broker accepts anonymous clients', evidence, reproduce };
}

export const mqttProbe: Probe = {
  id: 'mqtt',
  service: 'mqtt',
  title: 'MQTT broker (3.1.1)',
  ports: [1883],
  tags: ['broker', 'messaging', 'iot'],
  levels: {
    fingerprint: 'CONNECT (MQTT 3.1.1, clean session, random client id, no user name or password) and expects a CONNACK; DISCONNECT if accepted.',
    'auth-check':
      'The same anonymous CONNECT: return code 4 or 5 is locked; 0 is open once a SUBSCRIBE (QoS 0, clean session) to one random topic nobody publishes to gets its SUBACK. No message is read; never PUBLISH.',
  },
  remediation:
    'Refuse anonymous clients (Mosquitto: allow_anonymous false with a password_file or dynamic security; EMQX/HiveMQ: ' +
    'enable an authentication backend), add topic ACLs, serve MQTT over TLS (8883), and firewall 1883.',
  fingerprint,
  assess,
};
