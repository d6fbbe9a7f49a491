/**
 * Test helper (not shipped): starts Debian's Prometheus as a child process on a loopback port with a
 * temporary config and TSDB folder; it scrapes itself so queries have a series to answer with.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChildServer } from './child-server.js';

export interface TestPrometheus {
  port: number;
  stop(): Promise<void>;
}

export async function startTestPrometheus(port: number): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-prom-'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`,
  );
  const server = await startChildServer({
    name: 'prometheus',
    command: 'prometheus',
    args: [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    dir,
    readyUrl: `http://127.0.0.1:${port}/-/ready`,
  });
  return { port, stop: server.stop };
}
