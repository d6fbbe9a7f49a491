/**
 * Kubernetes test servers following the documented APIs:
 * - API server (https://kubernetes.io/docs/reference/using-api/api-concepts/): `GET /version` ({major, minor,
 *   gitVersion, gitCommit, platform, …}), `GET /api/v1/namespaces` (NamespaceList) and `GET /api/v1/pods` (PodList),
 *   with `limit` and metadata.remainingItemCount. Refusals are v1 Status objects: 401 when anonymous
 *   authentication is off (`locked`), 403 `… "system:anonymous" cannot list resource …` when it is on but RBAC
 *   denies (`anonymous-denied`).
 * - kubelet (https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/): `GET /pods` (PodList);
 *   refusals are plain text, 401 "Unauthorized" or 403 "Forbidden (user=system:anonymous, verb=get,
 *   resource=nodes, subresource=proxy)".
 */
import { startTestApi, type ApiAnswer, type ApiRequest, type TestApi } from './json-api.js';

export type KubernetesMode = 'open' | 'locked' | 'anonymous-denied' | 'garbage';

export interface TestKubernetesOptions {
  mode: KubernetesMode;
  role: 'apiserver' | 'kubelet';
  /** Namespace to pod count. */
  pods?: Record<string, number>;
  port?: number;
  /** Serve HTTPS, as real API servers and kubelets do. */
  tls?: { key: string; cert: string };
}

function podList(pods: Record<string, number>) {
  const items = Object.entries(pods).flatMap(([namespace, n]) =>
    Array.from({ length: n }, (_, i) => ({
      metadata: { name: `pod-${i}`, namespace },
      spec: { containers: [{ name: 'app', env: [{ name: 'OPENAI_API_KEY', value: 'not-a-real-key' }] }] },
    })),
  );
  return { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '4242' }, items };
}

const status = (code: number, reason: string, message: string): ApiAnswer => ({
  status: code,
  body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code },
});

function apiserver(req: ApiRequest, mode: KubernetesMode, pods: Record<string, number>): ApiAnswer {
  const path = req.url.pathname;
  if (mode === 'locked') return status(401, 'Unauthorized', 'Unauthorized');
  if (path === '/version')
    return {
      body: {
        major: '1',
        minor: '31',
        gitVersion: 'v1.31.2',
        gitCommit: '5864a4677267e6adeae276ad85882a8714d69d9d',
        gitTreeState: 'clean',
        buildDate: '2024-10-22T20:28:14Z',
        goVersion: 'go1.22.8',
        compiler: 'gc',
        platform: 'linux/amd64',
      },
    };
  const resource = /^\/api\/v1\/(namespaces|pods|secrets)$/.exec(path)?.[1];
  if (!resource) return status(404, 'NotFound', 'the server could not find the requested resource');
  if (mode === 'anonymous-denied')
    return status(
      403,
      'Forbidden',
      `${resource} is forbidden: User "system:anonymous" cannot list resource "${resource}" in API group "" at the cluster scope`,
    );
  if (resource === 'namespaces')
    return {
      body: {
        kind: 'NamespaceList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '4242' },
        items: Object.keys(pods).map((name) => ({ metadata: { name } })),
      },
    };
  if (resource === 'pods') return { body: podList(pods) };
  return status(500, 'InternalError', 'the test server never lists secrets');
}

function kubelet(req: ApiRequest, mode: KubernetesMode, pods: Record<string, number>): ApiAnswer {
  if (mode === 'locked') return { status: 401, body: 'Unauthorized' };
  if (mode === 'anonymous-denied') return { status: 403, body: 'Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource=proxy)' };
  if (req.url.pathname === '/pods') return { body: podList(pods) };
  return { status: 404, body: '404 page not found' };
}

export function startTestKubernetes(opts: TestKubernetesOptions): Promise<TestApi> {
  const pods = opts.pods ?? {};
  const mode = opts.mode === 'garbage' ? 'garbage' : 'open';
  return startTestApi({ mode, port: opts.port, tls: opts.tls }, (req) => {
    if (req.method !== 'GET') return { status: 405, body: 'the test server acts on nothing' };
    return opts.role === 'apiserver' ? apiserver(req, opts.mode, pods) : kubelet(req, opts.mode, pods);
  });
}
