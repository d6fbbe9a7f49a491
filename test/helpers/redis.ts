/** Test helper (not shipped): a throwaway redis-server on loopback, no persistence, ready when it returns. */
import type { ChildProcess } from 'node:child_process';
import { spawnListening } from './spawn-listening.js';

export function startTestRedis(port: number, extra: string[] = []): Promise<ChildProcess> {
  return spawnListening('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra], port);
}
