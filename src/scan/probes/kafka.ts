/**
 * Kafka over its binary protocol (https://kafka.apache.org/protocol). ApiVersions is answered before
 * authentication on every listener, so it only identifies the broker; Metadata is the request a SASL
 * listener refuses (it closes the connection), while a PLAINTEXT listener answers it with every broker's
 * advertised address and every topic. Messages are never fetched: no Fetch, Produce or group requests.
 */
import { rateExposure } from '../evidence.js';
import { isFailure } from '../transports/result.js';
import { tcpExchange, type FrameCheck } from '../transports/tcp.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const REMEDIATION =
  'Serve clients only on SASL_SSL listeners (listeners=SASL_SSL://..., sasl.enabled.mechanisms=SCRAM-SHA-512), ' +
  'remove PLAINTEXT listeners reachable from untrusted networks, enable ACLs (authorizer.class.name with ' +
  'allow.everyone.if.no.acl.found=false), and firewall 9092-9094.';

const API_METADATA = 3;
const API_SASL_HANDSHAKE = 17;
const API_VERSIONS = 18;
const CLIENT_ID = 'warden-scan';
const MAX_TOPICS_LISTED = 100;

function request(apiKey: number, apiVersion: number, correlationId: number, body: Buffer): Buffer {
  const client = Buffer.from(CLIENT_ID);
  const head = Buffer.alloc(14);
  head.writeInt16BE(apiKey, 4);
  head.writeInt16BE(apiVersion, 6);
  head.writeInt32BE(correlationId, 8);
  head.writeInt16BE(client.length, 12);
  const message = Buffer.concat([head, client, body]);
  message.writeInt32BE(message.length - 4, 0);
  return message;
}

const sizePrefixed: FrameCheck = (b) => (b.length >= 4 && b.length >= 4 + b.readInt32BE(0) ? 4 + b.readInt32BE(0) : 0);

/** A bounds-checked reader: any overrun throws RangeError, which callers turn into "not Kafka". */
class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  i8 = () => this.buf.readInt8(this.advance(1));
  i16 = () => this.buf.readInt16BE(this.advance(2));
  i32 = () => this.buf.readInt32BE(this.advance(4));
  string = () => {
    const n = this.i16();
    return n < 0 ? null : this.buf.toString('utf8', this.advance(n), this.pos);
  };
  array<T>(item: () => T, max = 10_000): T[] {
    const n = this.i32();
    if (n < 0) return [];
    if (n > max) throw new RangeError('array longer than any real reply');
    return Array.from({ length: n }, item);
  }
  private advance(n: number): number {
    if (n < 0 || this.pos + n > this.buf.length) throw new RangeError('read past the reply');
    const at = this.pos;
    this.pos += n;
    return at;
  }
}

/** Sends one request on a fresh connection; returns the body after the correlation id, or undefined. */
async function call(ctx: ProbeContext, apiKey: number, apiVersion: number, body: Buffer): Promise<Reader | undefined> {
  const correlationId = 0x5741 + apiKey;
  const reply = await tcpExchange(ctx.host, ctx.port, request(apiKey, apiVersion, correlationId, body), sizePrefixed, {
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
    maxBytes: 1024 * 1024,
  });
  if (isFailure(reply) || reply.length < 8 || reply.readInt32BE(4) !== correlationId) return undefined;
  return new Reader(reply.subarray(8));
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const reader = await call(ctx, API_VERSIONS, 0, Buffer.alloc(0));
  if (!reader) return undefined;
  try {
    const error = reader.i16();
    const apis = reader.array(() => ({ key: reader.i16(), min: reader.i16(), max: reader.i16() }), 500);
    const metadata = apis.find((a) => a.key === API_METADATA);
    if (error !== 0 || !metadata || !apis.some((a) => a.key === API_VERSIONS)) return undefined;
    return { service: 'kafka', details: { apis: apis.length, maxMetadataVersion: metadata.max } };
  } catch {
    return undefined;
  }
}

async function assess(ctx: ProbeContext, _fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { notes: [] };
  const reproduce = `kcat -b ${ctx.host}:${ctx.port} -L`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) {
    return { auth: 'unknown', severity: 'info', title: 'Kafka broker found (access not checked)', evidence };
  }
  // Metadata v1 with a null topic array (-1) asks for every topic.
  const metadata = await call(ctx, API_METADATA, 1, Buffer.from([0xff, 0xff, 0xff, 0xff]));
  if (!metadata) {
    const handshake = await call(ctx, API_SASL_HANDSHAKE, 1, Buffer.concat([Buffer.from([0, 5]), Buffer.from('PLAIN')]));
    let mechanisms: string[] | undefined;
    try {
      if (handshake) {
        handshake.i16();
        mechanisms = handshake.array(() => handshake.string() ?? '', 50);
      }
    } catch {
      mechanisms = undefined;
    }
    if (mechanisms?.length) {
      evidence.notes.push(`Metadata refused; the listener requires SASL (${mechanisms.join(', ')})`);
      return { auth: 'required', severity: 'info', title: 'Kafka requires SASL authentication', evidence, reproduce };
    }
    evidence.notes.push('Metadata gave no answer and no SASL mechanism was offered');
    return { auth: 'unknown', severity: 'info', title: 'Kafka broker found, access could not be checked', evidence };
  }
  try {
    const brokers = metadata.array(() => {
      const node = metadata.i32();
      const host = metadata.string();
      const port = metadata.i32();
      metadata.string();
      return { node, address: `${host}:${port}` };
    });
    metadata.i32();
    const topics = metadata.array(() => {
      const error = metadata.i16();
      const name = metadata.string() ?? '';
      const internal = metadata.i8() !== 0;
      const partitions = metadata.array(() => {
        metadata.i16();
        metadata.i32();
        metadata.i32();
        metadata.array(() => metadata.i32());
        metadata.array(() => metadata.i32());
      });
      return { error, name, internal, partitions: partitions.length };
    });
    // TOPIC_AUTHORIZATION_FAILED (29): ACLs hide the topic from this principal.
    const readable = topics.filter((t) => t.error === 0 && !t.internal);
    const denied = topics.filter((t) => t.error === 29).length;
    evidence.notes.push(`Metadata answered without credentials: ${brokers.length} brokers, ${readable.length} topics`);
    if (denied) evidence.notes.push(`${denied} topics refused by ACLs (TOPIC_AUTHORIZATION_FAILED)`);
    if (levelAllowed('metadata', ctx.maxLevel)) {
      evidence.notes.push(
        `advertised brokers: ${brokers
          .map((b) => b.address)
          .slice(0, 20)
          .join(', ')}`,
      );
      evidence.databases = [
        {
          name: 'topics',
          tables: readable.slice(0, MAX_TOPICS_LISTED).map((t) => ({ name: t.name })),
          ...(readable.length > MAX_TOPICS_LISTED ? { truncated: true } : {}),
        },
      ];
    }
  } catch {
    evidence.notes.push('Metadata answer could not be parsed');
    return { auth: 'unknown', severity: 'info', title: 'Kafka broker found, metadata answer not understood', evidence };
  }
  return {
    auth: 'none',
    severity: rateExposure('none', 'data-store', evidence),
    title: 'Kafka broker open without authentication (no SASL)',
    evidence,
    reproduce,
  };
}

export const kafkaProbe: Probe = {
  id: 'kafka',
  service: 'kafka',
  title: 'Kafka broker (binary protocol)',
  ports: [9092, 9093, 9094],
  tags: ['data-store', 'broker'],
  levels: {
    fingerprint: 'ApiVersions v0 (answered before authentication by design).',
    'auth-check': 'Metadata v1 for all topics; if refused, SaslHandshake to name the required mechanisms.',
    metadata: 'Broker addresses and topic names from the same Metadata answer; no message is ever fetched.',
  },
  remediation: REMEDIATION,
  fingerprint,
  assess,
};
