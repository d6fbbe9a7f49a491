/**
 * Test helper (not shipped): starts a real ClickHouse server as a child process on 127.0.0.1 with its
 * own temporary config and data folder, so open and password-protected instances can run side by side.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChildServer } from './child-server.js';

export interface TestClickHouse {
  httpPort: number;
  tcpPort: number;
  password: string;
  /** Runs SQL as the admin (POST over HTTP, with the password when set); returns the body. */
  query(sql: string): Promise<string>;
  stop(): Promise<void>;
}

export interface TestClickHouseOptions {
  httpPort: number;
  tcpPort: number;
  /** Empty: the default user has no password (the DeepSeek state). */
  password?: string;
  host?: string;
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export async function startTestClickHouse(opts: TestClickHouseOptions): Promise<TestClickHouse> {
  const host = opts.host ?? '127.0.0.1';
  const password = opts.password ?? '';
  const dir = mkdtempSync(join(tmpdir(), 'warden-ch-'));
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>${opts.httpPort}</http_port>
  <tcp_port>${opts.tcpPort}</tcp_port>
  <listen_host>${host}</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
</yandex>
`,
  );
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password>${xmlEscape(password)}</password>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`,
  );
  const server = await startChildServer({
    name: 'clickhouse-server',
    command: 'clickhouse-server',
    args: [`--config-file=${join(dir, 'config.xml')}`],
    dir,
    readyUrl: `http://${host}:${opts.httpPort}/ping`,
  });
  const auth: Record<string, string> = password ? { 'X-ClickHouse-User': 'default', 'X-ClickHouse-Key': password } : {};
  const query = async (sql: string) => {
    const res = await fetch(`http://${host}:${opts.httpPort}/`, { method: 'POST', body: sql, headers: auth });
    const body = await res.text();
    if (!res.ok) throw new Error(`clickhouse ${res.status}: ${body.slice(0, 300)}`);
    return body;
  };
  return { httpPort: opts.httpPort, tcpPort: opts.tcpPort, password, query, stop: server.stop };
}
