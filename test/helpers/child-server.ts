/**
 * Test helper (not shipped): runs a real server binary as a child process with its own temporary folder,
 * waits until `readyUrl` answers 2xx, and removes the folder when it stops or fails to start.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ChildServer {
  stop(): Promise<void>;
}

export async function startChildServer(opts: {
  name: string;
  command: string;
  args: string[];
  dir: string;
  readyUrl: string;
  timeoutMs?: number;
}): Promise<ChildServer> {
  const child = spawn(opts.command, opts.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 16_384) stderr += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(opts.dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) {
      rmSync(opts.dir, { recursive: true, force: true });
      throw new Error(`${opts.name} exited: ${stderr.slice(-2000)}`);
    }
    const ready = await fetch(opts.readyUrl).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${opts.name} did not become ready: ${stderr.slice(-2000)}`);
    }
    await sleep(200);
  }
}
