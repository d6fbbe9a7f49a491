/**
 * MongoDB over the current wire protocol: OP_MSG (opcode 2013) commands only, never the legacy OP_QUERY
 * (removed in MongoDB 6.0). `hello` is answered before authentication by design, so it only identifies
 * the server; `listDatabases` is the request that needs authorisation. An auth-enabled server may answer
 * `listDatabases` with ok:1 and an empty list, so only a non-empty list proves access (a server without
 * access control always lists at least admin and local).
 */
import { inspectRows, MAX_DATABASES, MAX_TABLES_PER_DATABASE, rateExposure } from '../evidence.js';
import { decodeBson, encodeBson, type BsonDocument } from '../transports/bson.js';
import { isFailure } from '../transports/result.js';
import { withTcpConnection, type FrameCheck, type TcpConnection } from '../transports/tcp.js';
import { levelAllowed, type Assessment, type DatabaseEvidence, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const OP_MSG = 2013;
const SYSTEM_DATABASES = new Set(['admin', 'config', 'local']);
const REMEDIATION =
  'Enable access control (security.authorization: enabled in mongod.conf, after creating an admin user), bind ' +
  'mongod to private interfaces only (net.bindIp), require TLS, and firewall 27017-27019 from untrusted networks.';

/** A whole OP_MSG by its length prefix; a nonsense length hands the bytes over so parsing rejects them. */
const wholeMessage: FrameCheck = (b) => {
  if (b.length < 4) return 0;
  const n = b.readInt32LE(0);
  if (n < 21) return b.length;
  return b.length >= n ? n : 0;
};

let nextRequestId = 1;

function opMsg(command: BsonDocument): Buffer {
  const body = encodeBson(command);
  const header = Buffer.alloc(21);
  header.writeInt32LE(21 + body.length, 0);
  header.writeInt32LE(nextRequestId++ & 0x7fffffff, 4);
  header.writeInt32LE(OP_MSG, 12);
  // flagBits 0, then section kind 0 (the body document) follows.
  return Buffer.concat([header, body]);
}

/** Sends one command and decodes the reply body; undefined when the peer did not answer with an OP_MSG. */
async function command(conn: TcpConnection, ctx: ProbeContext, cmd: BsonDocument, maxBytes?: number): Promise<BsonDocument | undefined> {
  conn.write(opMsg(cmd));
  const reply = await conn.read(wholeMessage, { timeoutMs: ctx.timeoutMs, maxBytes });
  if (isFailure(reply) || reply.length < 21 || reply.readInt32LE(12) !== OP_MSG || reply[20] !== 0) return undefined;
  try {
    return decodeBson(reply, 21).doc;
  } catch {
    return undefined;
  }
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const hello = await withTcpConnection(ctx, (conn) => command(conn, ctx, { hello: 1, $db: 'admin' }, 16 * 1024));
  if (!hello || hello.ok !== 1 || typeof hello.maxWireVersion !== 'number') return undefined;
  const details: Record<string, string | number | boolean> = { maxWireVersion: hello.maxWireVersion };
  if (typeof hello.setName === 'string') details.replicaSet = hello.setName;
  if (hello.msg === 'isdbgrid') details.mongos = true;
  return { service: 'mongodb', details };
}

const cursorBatch = (reply: BsonDocument | undefined): BsonDocument[] => {
  const cursor = reply?.cursor as BsonDocument | undefined;
  return Array.isArray(cursor?.firstBatch) ? (cursor.firstBatch as BsonDocument[]) : [];
};

/** JSON for the detector: BigInt and Date become strings, binary stays a size marker. */
const toText = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { notes: [] };
  const reproduce = `mongosh "mongodb://${ctx.host}:${ctx.port}/admin" --quiet --eval 'db.adminCommand({listDatabases: 1, nameOnly: true})'`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) {
    return { auth: 'unknown', severity: 'info', title: 'MongoDB found (access not checked)', evidence };
  }
  const result = await withTcpConnection(ctx, async (conn): Promise<Assessment> => {
    const listed = await command(conn, ctx, { listDatabases: 1, nameOnly: false, $db: 'admin' });
    if (!listed) {
      evidence.notes.push('listDatabases gave no answer');
      return { auth: 'unknown', severity: 'info', title: 'MongoDB found, access could not be checked', evidence };
    }
    if (listed.ok !== 1) {
      evidence.notes.push(`listDatabases refused: code ${String(listed.code ?? '?')} ${String(listed.codeName ?? '')}`.trim());
      return { auth: 'required', severity: 'info', title: 'MongoDB requires authentication', evidence, reproduce };
    }
    const databases = Array.isArray(listed.databases) ? (listed.databases as BsonDocument[]) : [];
    if (databases.length === 0) {
      evidence.notes.push('listDatabases answered ok with no databases: access control is on and this client is authorised for none');
      return { auth: 'required', severity: 'info', title: 'MongoDB requires authentication', evidence, reproduce };
    }
    evidence.notes.push(
      `listDatabases answered without credentials: ${databases.length} databases (${fp.details?.maxWireVersion !== undefined ? `wire version ${fp.details.maxWireVersion}` : 'wire version unknown'})`,
    );
    if (levelAllowed('metadata', ctx.maxLevel)) {
      const user = databases.filter((d) => !SYSTEM_DATABASES.has(String(d.name)));
      evidence.databases = [];
      for (const db of user.slice(0, MAX_DATABASES)) {
        const name = String(db.name);
        const collections = cursorBatch(await command(conn, ctx, { listCollections: 1, nameOnly: true, authorizedCollections: true, $db: name }))
          .map((c) => String(c.name))
          .filter((c) => !c.startsWith('system.'));
        const entry: DatabaseEvidence = { name, tables: [] };
        if (collections.length > MAX_TABLES_PER_DATABASE) entry.truncated = true;
        for (const coll of collections.slice(0, MAX_TABLES_PER_DATABASE)) {
          const counted = await command(conn, ctx, { count: coll, $db: name });
          const table = { name: coll, rows: typeof counted?.n === 'number' ? counted.n : undefined };
          if (levelAllowed('sample', ctx.maxLevel) && ctx.sample > 0 && (table.rows ?? 1) > 0) {
            const found = cursorBatch(
              await command(conn, ctx, { find: coll, limit: ctx.sample, batchSize: ctx.sample, singleBatch: true, $db: name }, 1024 * 1024),
            );
            const rows = found.map((doc) => Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, typeof v === 'string' ? v : toText(v)])));
            Object.assign(table, inspectRows(rows, ctx.detector));
          }
          entry.tables.push(table);
        }
        evidence.databases.push(entry);
      }
      if (user.length > MAX_DATABASES) evidence.notes.push(`only the first ${MAX_DATABASES} of ${user.length} databases are listed`);
    }
    const severity = rateExposure('none', 'data-store', evidence);
    return {
      auth: 'none',
      severity,
      title:
        severity === 'critical' ? 'MongoDB open without authentication, documents hold credentials or chat content' : 'MongoDB open without authentication',
      evidence,
      reproduce,
    };
  });
  return result ?? { auth: 'unknown', severity: 'info', title: 'MongoDB found, connection failed during the check', evidence };
}

export const mongodbProbe: Probe = {
  id: 'mongodb',
  service: 'mongodb',
  title: 'MongoDB (OP_MSG wire protocol)',
  ports: [27017, 27018, 27019],
  tags: ['data-store'],
  levels: {
    fingerprint: 'OP_MSG `hello` on admin (answered before authentication by design).',
    'auth-check': 'OP_MSG `listDatabases` on admin; only a non-empty list counts as access.',
    metadata: 'Per database (system ones skipped): `listCollections` with nameOnly, then `count` per collection.',
    sample: '`find` with limit N and a single batch per collection; documents go through the detector and are never kept.',
  },
  remediation: REMEDIATION,
  fingerprint,
  assess,
};
