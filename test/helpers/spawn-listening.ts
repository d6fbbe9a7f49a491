/** Starts a real server process for a probe test (or a bench fleet) and waits until its TCP port accepts connections. */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectTcp, TcpConnection } from '../../src/scan/transports/tcp.js';

export async function spawnListening(command: string, args: string[], port: number, host = '127.0.0.1'): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    const c = await connectTcp(host, port, { timeoutMs: 200 });
    if (c instanceof TcpConnection) {
      c.close();
      return child;
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`${command} on ${host}:${port} did not start`);
}
