import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';

export interface Measurement {
  seconds: number;
  peakRssMB: number;
  /** CPU time (user + system, all threads) as last sampled before exit: on a loaded machine, the figure that stays put. */
  cpuSeconds: number;
  exitCode: number | null;
}

function peakRssKB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs a command with stdout to /dev/null (or to `stdoutFile`), timing it and sampling its peak RSS (VmHWM)
 * from /proc; killed after `timeoutMs` when given (exitCode null).
 */
export function measure(
  command: string,
  args: string[],
  options: { cwd?: string; stdin?: string; stdoutFile?: string; timeoutMs?: number } = {},
): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const stdout = options.stdoutFile ? openSync(options.stdoutFile, 'w') : 'ignore';
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', stdout, 'inherit'] });
    if (typeof stdout === 'number') closeSync(stdout);
    let peak = 0;
    let cpu = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, peakRssKB(child.pid!));
      cpu = Math.max(cpu, cpuSeconds([child.pid!]));
    }, 10);
    const deadline = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      clearTimeout(deadline);
      resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, peakRssMB: peak / 1024, cpuSeconds: cpu, exitCode: code });
    });
  });
}

export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `node ${process.version}, ${os.platform()} ${os.arch()}, ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
}

/** The middle value (the upper one of the two for an even count), for repeated runs of one measurement. */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** Linux's clock ticks per second for /proc times (USER_HZ: 100 on every mainstream build). */
const USER_HZ = 100;

/** A process and every process below it, as /proc lists them now. */
export function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // gone, or not Linux
  }
  return [pid, ...children.flatMap(processTree)];
}

/** CPU time (user + system) the processes have used so far, in seconds; 0 for any that is gone. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks / USER_HZ;
}

export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  requests: number;
}

function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

/** One wrk run (its --latency figures in ms), each of `headers` (`Name: value`) on every request. */
export function wrk(url: string, connections: number, seconds: number, headers: readonly string[]): WrkResult {
  const args = ['-t', String(Math.min(connections, 2)), '-c', String(connections), '-d', `${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url];
  const out = spawnSync('wrk', args, { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`wrk failed: ${out.stderr}`);
  const text = out.stdout;
  const pct = (p: string) => toMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(text)?.[1] ?? '');
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN),
    p50: pct('50'),
    p99: pct('99'),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0),
    requests: Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN),
  };
}
