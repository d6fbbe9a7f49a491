// warden scan over a loopback fleet: real open and locked stores on several 127.0.0.x addresses, scanned
// as one /29 with the default ports. Prints wall time, peak RSS, endpoints and probes per second, and
// what was found. (The comparison with nmap -sV comes with the next scanner issue.)
// Usage: npx tsx bench/scan.bench.ts [--rounds 3] [--concurrency 64]
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { scan } from '../src/scan/index.js';
import { startTestClickHouse, type TestClickHouse } from '../src/scan/test-clickhouse.js';
import { connectTcp, TcpConnection } from '../src/scan/transports/tcp.js';
import { machineLine } from './measure.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '64' } } });

async function startRedis(host: string, extra: string[] = []): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', '6379', '--bind', host, '--save', '', '--appendonly', 'no', ...extra], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    const c = await connectTcp(host, 6379, { timeoutMs: 200 });
    if (c instanceof TcpConnection) {
      c.close();
      return child;
    }
    await sleep(100);
  }
  throw new Error(`redis on ${host} did not start`);
}

const fleet: Array<{ stop(): unknown }> = [];
try {
  // 127.0.0.1 already runs the machine's PostgreSQL, MariaDB, Redis (and ClickHouse from scripts/services.sh).
  const clickhouses: TestClickHouse[] = await Promise.all([
    startTestClickHouse({ host: '127.0.0.2', httpPort: 8123, tcpPort: 9000 }),
    startTestClickHouse({ host: '127.0.0.3', httpPort: 8123, tcpPort: 9000, password: 'bench-locked' }),
  ]);
  fleet.push(...clickhouses);
  await clickhouses[0]!.query('CREATE TABLE default.log_stream (t DateTime, line String) ENGINE = MergeTree ORDER BY t');
  await clickhouses[0]!.query(`INSERT INTO default.log_stream SELECT toDateTime(1736121600 + number), concat('{"role":"user","content":"q', toString(number), '"}') FROM system.numbers LIMIT 100000`);
  for (const [host, extra] of [['127.0.0.4', []], ['127.0.0.5', ['--requirepass', 'bench-locked']]] as const) {
    const child = await startRedis(host, [...extra]);
    fleet.push({ stop: () => child.kill('SIGKILL') });
  }

  console.log(machineLine());
  for (let round = 1; round <= Number(values.rounds); round++) {
    const started = process.hrtime.bigint();
    const report = await scan({ targets: ['127.0.0.0/29'], concurrency: Number(values.concurrency), timeoutMs: 2000, sample: 20 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const peakRssMB = process.resourceUsage().maxRSS / 1024;
    const { endpoints, open, probesRun } = report.stats;
    console.log(
      `round ${round}: ${seconds.toFixed(2)} s wall, peak RSS ${peakRssMB.toFixed(0)} MB, ${endpoints} endpoints (${(endpoints / seconds).toFixed(0)}/s), ${open} open, ${probesRun} probes (${(probesRun / seconds).toFixed(0)} probes/s)`,
    );
    if (round === 1) for (const f of report.findings) console.log(`  ${f.severity.padEnd(8)} ${f.auth.padEnd(8)} ${f.id}`);
  }
} finally {
  await Promise.all(fleet.map((f) => f.stop()));
}
