/** Starts a real server process for a probe test and waits until its TCP port accepts connections. */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectTcp, TcpConnection } from '../../src/scan/transports/tcp.js';

export async function spawnListening(command: string, args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    const c = await connectTcp('127.0.0.1', port, { timeoutMs: 200 });
    if (c instanceof TcpConnection) {
      c.close();
      return child;
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`${command} on ${port} did not start`);
}
