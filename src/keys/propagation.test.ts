// Revocation across real processes: two verifier processes cache a key, a third revokes it, and
// both must stop accepting it within one second (PostgreSQL LISTEN/NOTIFY; SQLite change polling).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createScratchDatabase, type ScratchDatabase } from '../../test/helpers/scratch-databases.js';
import { KeyStore } from './key-store.js';
import { testSecrets } from './test-support.js';
import { STORE_KINDS } from '../../test/helpers/store-kinds.js';
import { waitUntil } from '../../test/helpers/wait.js';

const CHILD = fileURLToPath(new URL('./verifier-child.ts', import.meta.url));

/** Starts a verifier process; resolves with its output lines as they come. */
function startVerifier(input: { location: string; secret: string; key: string }): {
  child: ChildProcess;
  lines: string[];
  next(prefix: string, ms: number): Promise<string>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  child.stdin!.end(JSON.stringify(input) + '\n');
  return {
    child,
    lines,
    async next(prefix, ms) {
      const ok = await waitUntil(() => lines.some((l) => l.startsWith(prefix)), ms, 5);
      if (!ok) throw new Error(`verifier did not print "${prefix}" within ${ms} ms`);
      return lines.find((l) => l.startsWith(prefix))!;
    },
  };
}

for (const kind of STORE_KINDS) {
  it(`${kind.name}: a revocation stops the key in two other verifier processes within 1 s`, async () => {
    const where = await kind.make();
    const secrets = testSecrets();
    const secret = `${secrets.current.version}:${secrets.current.key.toString('base64')}`;
    const admin = await KeyStore.open({ store: where.location, secrets });
    const verifiers: ReturnType<typeof startVerifier>[] = [];
    try {
      const { key, info } = await admin.create({ owner: 'o', name: 'two-processes', scopes: ['a:b'] });
      verifiers.push(startVerifier({ location: where.location, secret, key }), startVerifier({ location: where.location, secret, key }));
      for (const v of verifiers) await v.next('ready', 15_000);
      const revokedAt = Date.now();
      await admin.revoke(info.id, 'propagation');
      for (const v of verifiers) {
        const [, at, reason] = (await v.next('stopped', 3000)).split(' ');
        const took = Number(at) - revokedAt;
        assert.equal(reason, 'revoked');
        assert.ok(took < 1000, `took ${took} ms`);
      }
    } finally {
      for (const v of verifiers) v.child.kill();
      await admin.close();
      await where.cleanup();
    }
  });
}

describe('postgres: when the notification channel fails', () => {
  let db: ScratchDatabase;
  before(async () => {
    db = await createScratchDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it('forgets its cache on reconnecting, so a revocation made while deaf still lands', async () => {
    const secrets = testSecrets();
    const admin = await KeyStore.open({ store: db.url, secrets, notifications: false });
    const verifier = await KeyStore.open({ store: db.url, secrets });
    try {
      const { key, info } = await admin.create({ owner: 'o', name: 'deaf', scopes: ['a:b'] });
      assert.equal((await verifier.verify(key)).valid, true);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'warden-listen' AND datname = current_database()");
      await admin.revoke(info.id, 'while the listener was down');
      await c.end();
      const took = Date.now();
      assert.ok(await waitUntil(async () => (await verifier.verify(key)).reason === 'revoked', 2000), 'key still valid after the listener came back');
      assert.ok(Date.now() - took < 2000);
    } finally {
      await verifier.close();
      await admin.close();
    }
  });

  it('fails closed once the bound passes and the store is gone', async () => {
    const scratch = await createScratchDatabase();
    const secrets = testSecrets();
    const verifier = await KeyStore.open({ store: scratch.url, secrets, maxStalenessMs: 300 });
    const { key } = await verifier.create({ owner: 'o', name: 'closed', scopes: ['a:b'] });
    assert.equal((await verifier.verify(key)).valid, true);
    await scratch.drop();
    await new Promise((r) => setTimeout(r, 350));
    assert.equal((await verifier.verify(key)).reason, 'unavailable');
    await verifier.close();
  });
});
