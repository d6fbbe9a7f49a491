/**
 * A Docker Engine API test server following the documented API (https://docs.docker.com/reference/api/engine/):
 * `GET /version` ({Version, ApiVersion, MinAPIVersion, Os, Arch, KernelVersion}) and `GET /info` ({Containers,
 * ContainersRunning, Images, OperatingSystem, Name, …}), with the `Api-Version` and `Server` headers the daemon
 * sends. Locked mode is an authorization plugin (https://docs.docker.com/engine/extend/plugins_authorization/)
 * denying every request: 403 `{"message":"authorization denied by plugin …"}`.
 */
import { startTestApi, type ApiMode, type TestApi } from './json-api.js';

/** With `tls`, the daemon on 2376 with --tls but without --tlsverify: encrypted, yet anyone may connect. */
export function startTestDocker(opts: { mode: ApiMode; containers?: number; port?: number; tls?: { key: string; cert: string } }): Promise<TestApi> {
  const headers = { 'api-version': '1.47', server: 'Docker/27.3.1 (linux)' };
  return startTestApi({ mode: opts.mode, port: opts.port, tls: opts.tls }, (req) => {
    if (!req.authorised)
      return { status: 403, body: { message: 'authorization denied by plugin opa-docker-authz: request rejected by administrative policy' }, headers };
    if (req.method !== 'GET') return { status: 405, body: { message: 'the test server creates nothing' }, headers };
    const path = req.url.pathname.replace(/^\/v1\.\d+/, '');
    if (path === '/version')
      return {
        body: {
          Version: '27.3.1',
          ApiVersion: '1.47',
          MinAPIVersion: '1.24',
          GitCommit: '41ca978',
          Os: 'linux',
          Arch: 'amd64',
          KernelVersion: '6.1.0-26-amd64',
        },
        headers,
      };
    if (path === '/info')
      return {
        body: {
          ID: 'c0ffee',
          Containers: opts.containers ?? 0,
          ContainersRunning: 1,
          ContainersPaused: 0,
          ContainersStopped: (opts.containers ?? 1) - 1,
          Images: 9,
          Name: 'gpu-node-7',
          OperatingSystem: 'Debian GNU/Linux 12 (bookworm)',
          ServerVersion: '27.3.1',
        },
        headers,
      };
    return { status: 404, body: { message: 'page not found' }, headers };
  });
}
