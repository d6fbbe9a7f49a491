/**
 * Starts a real etcd (Debian's `etcd-server`) on 127.0.0.1 with its own temporary data folder. Locked
 * mode creates a root user with etcdctl and enables auth, as an operator would.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestEtcd {
  port: number;
  /** Runs etcdctl against this server (as root once auth is on); returns stdout. */
  ctl(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestEtcd(opts: { clientPort: number; peerPort: number; rootPassword?: string }): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-etcd-'));
  const client = `http://127.0.0.1:${opts.clientPort}`;
  const peer = `http://127.0.0.1:${opts.peerPort}`;
  const child = spawn(
    'etcd',
    [
      '--name',
      'warden-test',
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `warden-test=${peer}`,
    ],
    { stdio: 'ignore' },
  );
  let user: string[] = [];
  const ctl = async (...args: string[]) =>
    (await run('etcdctl', [`--endpoints=${client}`, ...user, ...args], { env: { ...process.env, ETCDCTL_API: '3' } })).stdout;
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    try {
      await ctl('endpoint', 'health');
      break;
    } catch (err) {
      if (i >= 50) {
        await stop();
        throw err;
      }
      await sleep(200);
    }
  }
  if (opts.rootPassword) {
    await ctl('user', 'add', 'root', `--new-user-password=${opts.rootPassword}`);
    await ctl('user', 'grant-role', 'root', 'root');
    await ctl('auth', 'enable');
    user = [`--user=root:${opts.rootPassword}`];
  }
  return { port: opts.clientPort, ctl, stop };
}
