/**
 * Cassandra / ScyllaDB over the CQL native protocol v4. OPTIONS is answered before authentication, so it
 * only identifies the server; STARTUP is the step that needs authorisation: READY means no authenticator
 * (AllowAllAuthenticator, Cassandra's default), AUTHENTICATE names the authenticator in force. Only
 * schema names are read (system_schema.tables); user tables are never queried.
 */
import { MAX_DATABASES, MAX_TABLES_PER_DATABASE, rateExposure } from '../evidence.js';
import { isFailure } from '../transports/result.js';
import { withTcpConnection, type FrameCheck, type TcpConnection } from '../transports/tcp.js';
import { levelAllowed, type Assessment, type AuthState, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const REMEDIATION =
  'Set authenticator: PasswordAuthenticator and authorizer: CassandraAuthorizer in cassandra.yaml, replace the ' +
  'default cassandra superuser with your own and disable it, enable client_encryption_options, bind ' +
  'rpc_address/native_transport to a private interface, and firewall 9042/9142.';

const OP = {
  ERROR: 0x00,
  STARTUP: 0x01,
  READY: 0x02,
  AUTHENTICATE: 0x03,
  OPTIONS: 0x05,
  SUPPORTED: 0x06,
  QUERY: 0x07,
  RESULT: 0x08,
  AUTH_RESPONSE: 0x0f,
  AUTH_SUCCESS: 0x10,
};
/** The superuser Cassandra creates on first start with PasswordAuthenticator. */
const DEFAULT_LOGIN = { user: 'cassandra', password: 'cassandra' };
const SCHEMA_QUERY = 'SELECT keyspace_name, table_name FROM system_schema.tables';
const SYSTEM_KEYSPACE = /^(system|system_schema|system_auth|system_distributed|system_traces|system_views|system_virtual_schema|dse_.*|solr_admin)$/;

const wholeFrame: FrameCheck = (b) => (b.length >= 9 && b.length >= 9 + b.readInt32BE(5) ? 9 + b.readInt32BE(5) : 0);

interface Frame {
  opcode: number;
  body: Buffer;
}

function encodeFrame(opcode: number, body: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head[0] = 0x04;
  head[4] = opcode;
  head.writeInt32BE(body.length, 5);
  return Buffer.concat([head, body]);
}

const short = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const string = (s: string) => Buffer.concat([short(Buffer.byteLength(s)), Buffer.from(s)]);

async function exchange(conn: TcpConnection, ctx: ProbeContext, opcode: number, body: Buffer): Promise<Frame | undefined> {
  conn.write(encodeFrame(opcode, body));
  const reply = await conn.read(wholeFrame, { timeoutMs: ctx.timeoutMs, maxBytes: 1024 * 1024 });
  // Responses carry the version with the direction bit set (0x84 for v4); anything else is not CQL.
  if (isFailure(reply) || reply[0] !== 0x84) return undefined;
  return { opcode: reply[4]!, body: reply.subarray(9) };
}

/** Bounds-checked reads over a frame body; an overrun throws RangeError, caught as "not understood". */
function reader(buf: Buffer) {
  let pos = 0;
  const take = (n: number) => {
    if (n < 0 || pos + n > buf.length) throw new RangeError('read past the frame');
    pos += n;
    return pos - n;
  };
  const r = {
    short: () => buf.readUInt16BE(take(2)),
    int: () => buf.readInt32BE(take(4)),
    string: () => {
      const n = r.short();
      return buf.toString('utf8', take(n), pos);
    },
    bytes: () => {
      const n = r.int();
      return n < 0 ? null : buf.toString('utf8', take(n), pos);
    },
  };
  return r;
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const supported = await withTcpConnection(ctx, (conn) => exchange(conn, ctx, OP.OPTIONS, Buffer.alloc(0)));
  if (supported?.opcode !== OP.SUPPORTED) return undefined;
  try {
    const r = reader(supported.body);
    const options: Record<string, string[]> = {};
    for (let n = r.short(); n > 0; n--) {
      const key = r.string();
      options[key] = Array.from({ length: r.short() }, r.string);
    }
    const cql = options.CQL_VERSION?.[0];
    if (!cql) return undefined;
    return { service: 'cassandra', version: cql, details: { cqlVersion: cql, protocols: (options.PROTOCOL_VERSIONS ?? []).join(' ') } };
  } catch {
    return undefined;
  }
}

/** Keyspace to table names from system_schema.tables (rows of two text columns). */
function parseSchemaRows(body: Buffer): Record<string, string[]> {
  const r = reader(body);
  if (r.int() !== 0x0002) throw new RangeError('not a Rows result');
  const flags = r.int();
  const columns = r.int();
  // Keyspace and table names are sent once (global spec flag) or per column; either way they are skipped.
  const skipTableSpec = () => {
    r.string();
    r.string();
  };
  if (flags & 0x0001) skipTableSpec();
  for (let i = 0; i < columns; i++) {
    if (!(flags & 0x0001)) skipTableSpec();
    r.string();
    const type = r.short();
    // Only simple text types are expected from this query.
    if (type !== 0x000d && type !== 0x000a) throw new RangeError('unexpected column type');
  }
  const keyspaces: Record<string, string[]> = {};
  for (let n = r.int(); n > 0; n--) {
    const ks = r.bytes() ?? '';
    const table = r.bytes() ?? '';
    (keyspaces[ks] ??= []).push(table);
  }
  return keyspaces;
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const base = `cqlsh ${ctx.host} ${ctx.port}`;
  let reproduce = `${base} -e 'DESCRIBE KEYSPACES'`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) {
    return { auth: 'unknown', severity: 'info', title: 'Cassandra found (access not checked)', evidence };
  }
  const result = await withTcpConnection(ctx, async (conn): Promise<Assessment> => {
    const started = await exchange(conn, ctx, OP.STARTUP, Buffer.concat([short(1), string('CQL_VERSION'), string('3.0.0')]));
    let auth: AuthState = 'none';
    if (started?.opcode === OP.AUTHENTICATE) {
      let authenticator = 'unknown';
      try {
        authenticator = reader(started.body).string();
      } catch {
        // The class name is only a note; the AUTHENTICATE opcode already says auth is required.
      }
      evidence.notes.push(`STARTUP answered AUTHENTICATE (${authenticator})`);
      const locked: Assessment = { auth: 'required', severity: 'info', title: 'Cassandra requires authentication', evidence, reproduce };
      if (!ctx.defaultCredentials || !levelAllowed('default-credentials', ctx.maxLevel)) return locked;
      const token = Buffer.from(`\0${DEFAULT_LOGIN.user}\0${DEFAULT_LOGIN.password}`);
      const len = Buffer.alloc(4);
      len.writeInt32BE(token.length);
      const answer = await exchange(conn, ctx, OP.AUTH_RESPONSE, Buffer.concat([len, token]));
      if (answer?.opcode !== OP.AUTH_SUCCESS) return locked;
      auth = 'default-credentials';
      evidence.credentialsAccepted = `${DEFAULT_LOGIN.user}:published default password`;
      // cqlsh prompts for the password when only -u is given, so the command carries no secret.
      reproduce = `${base} -u ${DEFAULT_LOGIN.user} -e 'DESCRIBE KEYSPACES'`;
    } else if (started?.opcode !== OP.READY) {
      evidence.notes.push('STARTUP gave neither READY nor AUTHENTICATE');
      return { auth: 'unknown', severity: 'info', title: 'Cassandra found, access could not be checked', evidence };
    } else evidence.notes.push('STARTUP answered READY: no authenticator is configured');
    // READY is nine plausible bytes; the proof is a Rows answer to a schema query, which only a session gets.
    const query = Buffer.from(SCHEMA_QUERY);
    const len = Buffer.alloc(4);
    len.writeInt32BE(query.length);
    // QUERY body: [long string] query, [short] consistency ONE, [byte] no flags.
    const rows = await exchange(conn, ctx, OP.QUERY, Buffer.concat([len, query, short(0x0001), Buffer.from([0])]));
    let keyspaces: Array<[string, string[]]>;
    try {
      if (rows?.opcode !== OP.RESULT) throw new RangeError('schema query refused');
      const all = Object.entries(parseSchemaRows(rows.body));
      if (!all.some(([ks]) => ks === 'system_schema')) throw new RangeError('no system_schema tables listed');
      keyspaces = all.filter(([ks]) => !SYSTEM_KEYSPACE.test(ks));
    } catch {
      evidence.notes.push('the schema query got no Rows answer listing system_schema: no proof of access');
      return { auth: 'unknown', severity: 'info', title: 'Cassandra found, access could not be checked', evidence };
    }
    if (levelAllowed('metadata', ctx.maxLevel)) {
      evidence.databases = keyspaces.slice(0, MAX_DATABASES).map(([name, tables]) => ({
        name,
        tables: tables.slice(0, MAX_TABLES_PER_DATABASE).map((t) => ({ name: t })),
        ...(tables.length > MAX_TABLES_PER_DATABASE ? { truncated: true } : {}),
      }));
    }
    const how = auth === 'none' ? 'open without authentication' : 'open with the default cassandra superuser';
    return { auth, severity: rateExposure(auth, 'data-store', evidence), title: `Cassandra ${how}`, evidence, reproduce };
  });
  return result ?? { auth: 'unknown', severity: 'info', title: 'Cassandra found, connection failed during the check', evidence };
}

export const cassandraProbe: Probe = {
  id: 'cassandra',
  service: 'cassandra',
  title: 'Cassandra / ScyllaDB (CQL native protocol v4)',
  ports: [9042],
  tags: ['data-store'],
  levels: {
    fingerprint: 'CQL OPTIONS and expects SUPPORTED with a CQL_VERSION.',
    'auth-check': `CQL STARTUP: AUTHENTICATE names the authenticator in force; READY, then ${SCHEMA_QUERY}: open only when it answers Rows listing system_schema.`,
    metadata: 'Keyspace and table names from that answer (system keyspaces skipped). No user table is queried.',
    'default-credentials': 'When STARTUP asks for auth: one SASL PLAIN login as cassandra/cassandra.',
  },
  remediation: REMEDIATION,
  fingerprint,
  assess,
};
