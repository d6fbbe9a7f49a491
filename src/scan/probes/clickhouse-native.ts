/**
 * ClickHouse native TCP protocol (9000): sends only the client Hello (a login as `default` with an
 * empty password) and reads one packet. A server Hello means the login was accepted.
 */
import { rateExposure } from '../evidence.js';
import { CLICKHOUSE_AUTH_CODES, encodeHello, parseServerPacket, type ServerPacket } from '../transports/clickhouse-native.js';
import { isFailure } from '../transports/result.js';
import { tcpExchange, type FrameCheck } from '../transports/tcp.js';
import type { Assessment, Evidence, Fingerprint, Probe, ProbeContext } from '../types.js';

const DEFAULT_LOGINS: Array<[string, string]> = [['clickhouse', 'clickhouse']];

/** Complete once a packet parses; garbage ends the read at once (as "complete") and is rejected after. */
const packetFrame: FrameCheck = (b) => {
  const parsed = parseServerPacket(b);
  return parsed.state === 'incomplete' ? 0 : parsed.state === 'ok' ? parsed.length : b.length;
};

async function hello(ctx: ProbeContext, user: string, password: string): Promise<ServerPacket | undefined> {
  const reply = await tcpExchange(ctx.host, ctx.port, encodeHello(user, password), packetFrame, {
    timeoutMs: ctx.timeoutMs,
    maxBytes: 16 * 1024,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  if (isFailure(reply)) return undefined;
  const parsed = parseServerPacket(reply);
  return parsed.state === 'ok' ? parsed.packet : undefined;
}

const versionOf = (p: Extract<ServerPacket, { kind: 'hello' }>) =>
  `${p.major}.${p.minor}${p.patch !== undefined ? `.${p.patch}` : ''} (revision ${p.revision})`;

export const clickhouseNative: Probe = {
  id: 'clickhouse-native',
  service: 'clickhouse',
  title: 'ClickHouse native protocol',
  ports: [9000, 19000],
  tags: ['data-store', 'analytics', 'logs'],
  levels: {
    port: 'TCP connect.',
    fingerprint: 'Client Hello as user "default" with an empty password; ClickHouse answers Hello or an Exception.',
    'auth-check': 'The same Hello: a server Hello means the empty-password login was accepted.',
    metadata: 'None over this protocol (inventory comes from the HTTP probe on 8123).',
    'default-credentials': 'With --default-credentials: a Hello as user clickhouse with its published default password.',
  },
  remediation:
    'Set a password on every ClickHouse user (users.xml <password_sha256_hex>), restrict <networks>, bind <listen_host> to private interfaces behind a firewall, and prefer the TLS port 9440.',
  readPath: { scheme: 'clickhouse', user: 'default', path: '/', overHttpPort: true },

  async fingerprint(ctx): Promise<Fingerprint | undefined> {
    const packet = await hello(ctx, 'default', '');
    if (!packet) return undefined;
    if (packet.kind === 'hello') {
      return {
        service: 'clickhouse',
        version: versionOf(packet),
        details: {
          interface: 'native',
          accepted: true,
          ...(packet.timezone ? { timezone: packet.timezone } : {}),
          ...(packet.displayName ? { displayName: packet.displayName } : {}),
        },
      };
    }
    return { service: 'clickhouse', details: { interface: 'native', accepted: false, code: packet.code } };
  },

  async assess(ctx, fp) {
    const evidence: Evidence = { ...(fp.version ? { version: fp.version } : {}), notes: [] };
    if (fp.details?.displayName) evidence.notes.push(`server display name ${fp.details.displayName}`);
    let auth: Assessment['auth'] = 'unknown';
    if (fp.details?.accepted === true) {
      auth = 'none';
      evidence.user = 'default';
      evidence.notes.push('the default user logged in with an empty password; the HTTP interface (8123), if reachable, shows the databases');
    } else if (CLICKHOUSE_AUTH_CODES.has(Number(fp.details?.code))) {
      auth = 'required';
      if (ctx.defaultCredentials) {
        for (const [user, password] of DEFAULT_LOGINS) {
          const packet = await hello(ctx, user, password);
          if (packet?.kind === 'hello') {
            auth = 'default-credentials';
            evidence.user = user;
            evidence.version = versionOf(packet);
            evidence.credentialsAccepted = `${user}:<published default password>`;
            break;
          }
        }
      }
    } else {
      evidence.notes.push(`server refused the Hello with code ${fp.details?.code}`);
    }
    const title =
      auth === 'none'
        ? 'ClickHouse native protocol accepts the default user without a password'
        : auth === 'default-credentials'
          ? 'ClickHouse native protocol accepts a published default password'
          : auth === 'required'
            ? 'ClickHouse native protocol requires authentication'
            : 'ClickHouse native protocol: access could not be determined';
    return {
      auth,
      severity: rateExposure(auth, 'data-store', evidence),
      title,
      evidence,
      reproduce: `clickhouse-client --host ${ctx.host} --port ${ctx.port} --user default --query 'SHOW DATABASES'`,
    };
  },
};
