/**
 * RabbitMQ (and other AMQP 0-9-1 brokers) on 5672. After the protocol header the broker sends
 * Connection.Start with its product, version and SASL mechanisms; that is the fingerprint. A login with no
 * credentials is only possible when ANONYMOUS is offered; with --default-credentials, PLAIN guest/guest is
 * tried. A login that succeeds is answered by Connection.Tune, and the probe closes the socket there: no
 * channel is opened, nothing is declared, published or consumed.
 */
import { isLoopbackHost } from '../../host-port.js';
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import {
  AMQP_091_HEADER,
  amqpFrame,
  CONNECTION_CLASS,
  CONNECTION_METHOD,
  connectionStartOk,
  connectionTuneOkAndOpen,
  parseConnectionStart,
  parseMethodFrame,
  type ConnectionStart,
} from '../transports/amqp.js';
import { isFailure } from '../transports/result.js';
import { connectTcp, TcpConnection } from '../transports/tcp.js';
import { levelAllowed, type Assessment, type AuthState, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const MAX_FRAME_BYTES = 64 * 1024;
const DEFAULT_LOGIN = { user: 'guest', password: 'guest' };

/** RabbitMQ allows guest only over loopback (loopback_users), so where it worked says what it means. */
export function guestAcceptedNote(host: string): string {
  return isLoopbackHost(host)
    ? 'guest/guest accepted over loopback, where RabbitMQ allows it by default; from another host it works only if loopback_users was changed'
    : 'guest/guest accepted from a remote address: loopback_users was changed to allow it';
}

type LoginResult = 'accepted' | 'refused' | 'unclear';

/** Connects, sends the protocol header and reads Connection.Start; the connection stays open for a login. */
async function start(ctx: ProbeContext): Promise<{ conn: TcpConnection; start: ConnectionStart } | undefined> {
  const conn = await connectTcp(ctx.host, ctx.port, { timeoutMs: ctx.timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  if (!(conn instanceof TcpConnection)) return undefined;
  conn.write(AMQP_091_HEADER);
  const frame = await conn.read(amqpFrame, { timeoutMs: ctx.timeoutMs, maxBytes: MAX_FRAME_BYTES });
  const method = isFailure(frame) ? undefined : parseMethodFrame(frame);
  const parsed = method ? parseConnectionStart(method) : undefined;
  if (!parsed) {
    conn.close();
    return undefined;
  }
  return { conn, start: parsed };
}

async function login(ctx: ProbeContext, mechanism: string, response: Buffer): Promise<LoginResult> {
  const opened = await start(ctx);
  if (!opened) return 'unclear';
  const { conn } = opened;
  try {
    conn.write(connectionStartOk(mechanism, response));
    const frame = await conn.read(amqpFrame, { timeoutMs: ctx.timeoutMs, maxBytes: MAX_FRAME_BYTES });
    // A broker that ignores authentication_failure_close just drops the connection on a refused login.
    if (isFailure(frame)) return frame.reason === 'closed' ? 'refused' : 'unclear';
    const method = parseMethodFrame(frame);
    if (method?.classId !== CONNECTION_CLASS) return 'unclear';
    if (method.methodId === CONNECTION_METHOD.close) return 'refused';
    if (method.methodId !== CONNECTION_METHOD.tune) return 'unclear';
    // Tune is one small frame a look-alike can send anyone. Open-Ok for the default vhost is the broker
    // letting this login in; opening a connection declares, reads and publishes nothing.
    conn.write(connectionTuneOkAndOpen('/'));
    const opened = await conn.read(amqpFrame, { timeoutMs: ctx.timeoutMs, maxBytes: MAX_FRAME_BYTES });
    const answer = isFailure(opened) ? undefined : parseMethodFrame(opened);
    if (answer?.classId === CONNECTION_CLASS && answer.methodId === CONNECTION_METHOD.openOk) return 'accepted';
    return answer?.classId === CONNECTION_CLASS && answer.methodId === CONNECTION_METHOD.close ? 'refused' : 'unclear';
  } finally {
    conn.close();
  }
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const opened = await start(ctx);
  if (!opened) return undefined;
  opened.conn.close();
  const props = opened.start.serverProperties;
  const product = typeof props.product === 'string' ? props.product : 'AMQP 0-9-1 broker';
  return {
    service: 'rabbitmq',
    ...(typeof props.version === 'string' ? { version: props.version } : {}),
    details: { product, mechanisms: opened.start.mechanisms.join(' '), ...(typeof props.cluster_name === 'string' ? { cluster: props.cluster_name } : {}) },
  };
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const product = String(fp.details?.product ?? 'RabbitMQ');
  const evidence: Evidence = { version: fp.version, notes: [] };
  const mechanisms = String(fp.details?.mechanisms ?? '').split(' ');
  let reproduce = `nmap -p ${ctx.port} --script amqp-info ${ctx.host}`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked(product, evidence);
  let auth: AuthState = 'required';
  if (mechanisms.includes('ANONYMOUS')) {
    const anonymous = await login(ctx, 'ANONYMOUS', Buffer.alloc(0));
    if (anonymous === 'unclear') return accessUnclear(product, evidence, 'the ANONYMOUS login got no clear answer (no Open-Ok, no Close)');
    if (anonymous === 'accepted') auth = 'none';
    evidence.notes.push(`ANONYMOUS login ${anonymous}`);
  } else evidence.notes.push(`no anonymous SASL mechanism offered (${mechanisms.join(', ')})`);
  if (auth === 'required' && ctx.defaultCredentials && levelAllowed('default-credentials', ctx.maxLevel) && mechanisms.includes('PLAIN')) {
    const guest = await login(ctx, 'PLAIN', Buffer.from(`\0${DEFAULT_LOGIN.user}\0${DEFAULT_LOGIN.password}`));
    if (guest === 'unclear') return accessUnclear(product, evidence, 'the guest login got no clear answer');
    if (guest === 'accepted') {
      auth = 'default-credentials';
      evidence.credentialsAccepted = `${DEFAULT_LOGIN.user}:published default password`;
      evidence.notes.push(guestAcceptedNote(ctx.host));
      reproduce = `${reproduce}   # then log in as guest with the published default password from any AMQP client`;
    } else evidence.notes.push('guest/guest refused');
  }
  if (auth === 'required') return authRequired(product, evidence, 'AMQP login needs credentials', reproduce);
  const title = auth === 'none' ? `${product} accepts anonymous AMQP logins` : `${product} accepts the default guest/guest login`;
  return { auth, severity: rateExposure(auth, 'broker'), title, evidence, reproduce };
}

export const rabbitmqAmqpProbe: Probe = {
  id: 'rabbitmq-amqp',
  service: 'rabbitmq',
  title: 'RabbitMQ / AMQP 0-9-1 broker',
  ports: [5672],
  tags: ['broker', 'messaging'],
  levels: {
    fingerprint: 'Sends the AMQP 0-9-1 protocol header and reads Connection.Start (product, version, cluster name, SASL mechanisms).',
    'auth-check':
      'Connection.Start-Ok with the ANONYMOUS mechanism when the broker offers it; accepted only when, after Connection.Tune, Connection.Open of vhost / gets Open-Ok.',
    'default-credentials':
      'Connection.Start-Ok with PLAIN guest/guest, with the same proof (Open-Ok for vhost /). The socket is closed then: no channel, no queue, no message.',
  },
  remediation:
    'Delete the guest user or change its password (rabbitmqctl delete_user guest), keep loopback_users.guest = true, ' +
    'disable the ANONYMOUS mechanism (auth_mechanisms), require TLS (5671), and firewall 5672/15672/25672.',
  fingerprint,
  assess,
};
