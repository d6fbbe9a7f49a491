/**
 * MQTT 3.1.1 brokers (Mosquitto, EMQX, HiveMQ, …) on 1883. MQTT has no greeting, so identifying a broker
 * already takes a CONNECT: one with no username or password and a random client id, clean session; the
 * CONNACK return code says whether anonymous clients are accepted (0) or refused (4, 5). An accepted
 * connection is closed at once with DISCONNECT. The probe never subscribes and never publishes.
 */
import { randomBytes } from 'node:crypto';
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { isFailure } from '../transports/result.js';
import { connectTcp, TcpConnection } from '../transports/tcp.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const DISCONNECT = Buffer.from([0xe0, 0x00]);
const RETURN_CODES = ['accepted', 'unacceptable protocol version', 'client identifier rejected', 'server unavailable', 'bad user name or password', 'not authorised'];

/** CONNECT, protocol level 4 (3.1.1), clean session, keep-alive 10 s, no will, no credentials. */
function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const variable = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x0a]);
  const payload = Buffer.concat([Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  const remaining = variable.length + payload.length;
  return Buffer.concat([Buffer.from([0x10, remaining]), variable, payload]);
}

/** The CONNACK return code, or undefined when the reply is not a 3.1.1 CONNACK. */
async function connectAnonymously(ctx: ProbeContext): Promise<number | undefined> {
  const conn = await connectTcp(ctx.host, ctx.port, { timeoutMs: ctx.timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  if (!(conn instanceof TcpConnection)) return undefined;
  try {
    conn.write(connectPacket(`warden-${randomBytes(6).toString('hex')}`));
    const ack = await conn.read((b) => (b.length >= 4 ? 4 : 0), { timeoutMs: ctx.timeoutMs, maxBytes: 64 });
    // CONNACK: type 2, remaining length 2, session-present flag 0 or 1, return code 0..5.
    if (isFailure(ack) || ack[0] !== 0x20 || ack[1] !== 0x02 || ack[2]! > 1 || ack[3]! >= RETURN_CODES.length) return undefined;
    if (ack[3] === 0) conn.write(DISCONNECT);
    return ack[3];
  } finally {
    conn.close();
  }
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const code = await connectAnonymously(ctx);
  return code === undefined ? undefined : { service: 'mqtt', details: { connack: RETURN_CODES[code]! } };
}

async function assess(ctx: ProbeContext, _fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { notes: [] };
  const reproduce = `mosquitto_sub -h ${ctx.host} -p ${ctx.port} -t '$SYS/broker/version' -C 1 -W 5   # connects anonymously; "not authorised" when locked`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('MQTT broker', evidence);
  const code = await connectAnonymously(ctx);
  if (code === undefined) return accessUnclear('MQTT broker', evidence, 'no CONNACK on reconnect');
  if (code === 4 || code === 5) return authRequired('MQTT broker', evidence, `anonymous CONNECT refused (CONNACK ${code}: ${RETURN_CODES[code]})`, reproduce);
  if (code !== 0) return accessUnclear('MQTT broker', evidence, `anonymous CONNECT answered CONNACK ${code}: ${RETURN_CODES[code]}`);
  evidence.notes.push('anonymous CONNECT accepted (CONNACK 0): anyone can subscribe to every topic and publish');
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
    'auth-check': 'The same anonymous CONNECT: return code 0 is open, 4 or 5 is locked. Never SUBSCRIBE or PUBLISH.',
  },
  remediation:
    'Refuse anonymous clients (Mosquitto: allow_anonymous false with a password_file or dynamic security; EMQX/HiveMQ: ' +
    'enable an authentication backend), add topic ACLs, serve MQTT over TLS (8883), and firewall 1883.',
  fingerprint,
  assess,
};
