/**
 * Starts a real memcached (Debian's `memcached` package) on 127.0.0.1 for probe tests. Locked mode uses
 * memcached's own auth file (`-Y`), which refuses every ASCII command before authentication.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TestMemcached {
  port: number;
  /** Sends raw ASCII protocol text as the admin (authenticating first when locked); returns the reply. */
  command(text: string): Promise<string>;
  stop(): Promise<void>;
}

function exchange(port: number, text: string, done: (reply: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let reply = '';
    socket.on('data', (d) => {
      reply += d.toString('latin1');
      if (done(reply)) {
        socket.destroy();
        resolve(reply);
      }
    });
    socket.on('error', reject);
    socket.setTimeout(3000, () => {
      socket.destroy();
      reject(new Error(`memcached on ${port} did not answer`));
    });
  });
}

export async function startTestMemcached(opts: { port: number; password?: string }): Promise<TestMemcached> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-memcached-'));
  const args = ['-l', '127.0.0.1', '-p', String(opts.port), '-U', '0', '-m', '16'];
  // memcached refuses to run as root without naming a user.
  if (process.getuid?.() === 0) args.push('-u', 'root');
  let login = '';
  if (opts.password) {
    const file = join(dir, 'auth');
    writeFileSync(file, `warden:${opts.password}\n`);
    args.push('-Y', file);
    const token = `warden ${opts.password}`;
    login = `set auth 0 0 ${token.length}\r\n${token}\r\n`;
  }
  const child = spawn('memcached', args, { stdio: 'ignore' });
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 50; i++) {
    try {
      await exchange(opts.port, `${login}version\r\n`, (r) => r.includes('VERSION'));
      return {
        port: opts.port,
        command: async (text) => {
          const reply = await exchange(opts.port, `${login}${text}`, (r) => {
            const body = login ? r.replace(/^STORED\r\n/, '') : r;
            return /(END|STORED|DELETED|NOT_FOUND|ERROR[^\r]*)\r\n$/.test(body);
          });
          return login ? reply.replace(/^STORED\r\n/, '') : reply;
        },
        stop,
      };
    } catch {
      await sleep(100);
    }
  }
  await stop();
  throw new Error(`memcached did not start on port ${opts.port}`);
}
