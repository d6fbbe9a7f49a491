/**
 * The kubelet API (10250, and the legacy read-only port 10255). Anonymous access to 10250 reaches `/run` and
 * `/exec` in every pod on the node, so an open kubelet is a code-execution surface; 10255 exposes pod specs
 * and their environment. `GET /pods` is both the fingerprint and the proof; pods are counted by namespace and
 * their specs are never kept. 10250 serves HTTPS (tried first there), 10255 plain HTTP.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { curlCommand, isRecord, requestJson, type JsonReply } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

/** The kubelet's webhook-authorizer refusal names the anonymous user and the node subresource. */
const ANONYMOUS_FORBIDDEN = /^Forbidden \(user=system:anonymous, verb=\w+, resource=nodes, subresource=\w+\)/;

const isPodList = (reply: JsonReply) =>
  reply.status === 200 && isRecord(reply.json) && reply.json.kind === 'PodList' && reply.json.apiVersion === 'v1' && Array.isArray(reply.json.items);

const getPods = (ctx: ProbeContext) => requestJson(ctx, '/pods', { maxBytes: 8 * 1024 * 1024 });

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const pods = await getPods(ctx);
  if (isFailure(pods)) return undefined;
  if (pods.status === 403 && ANONYMOUS_FORBIDDEN.test(pods.text)) return { service: 'kubelet', details: { authRequired: true } };
  return isPodList(pods) ? { service: 'kubelet' } : undefined;
}

async function assess(ctx: ProbeContext, _fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { notes: [] };
  const reproduce = curlCommand(ctx, '/pods');
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('kubelet', evidence);
  const pods = await getPods(ctx);
  if (isFailure(pods)) return accessUnclear('kubelet', evidence, `/pods gave no answer: ${pods.reason}`);
  if (pods.status === 401 || pods.status === 403) {
    const why = ANONYMOUS_FORBIDDEN.test(pods.text) ? 'anonymous authentication is on but the authorizer denies it' : 'anonymous authentication is off';
    return authRequired('kubelet', evidence, `/pods refused (HTTP ${pods.status}): ${why}`, reproduce);
  }
  if (!isPodList(pods)) return accessUnclear('kubelet', evidence, `/pods answered HTTP ${pods.status} without a PodList`);
  evidence.notes.push(
    '/pods answered without credentials: pod specs (and their environment) are readable, and on 10250 /run and /exec reach every pod on the node',
  );
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const byNamespace: Record<string, number> = {};
    for (const pod of (pods.json as { items: unknown[] }).items) {
      const ns = isRecord(pod) && isRecord(pod.metadata) && typeof pod.metadata.namespace === 'string' ? pod.metadata.namespace : '(none)';
      byNamespace[ns] = (byNamespace[ns] ?? 0) + 1;
    }
    evidence.databases = [{ name: 'namespaces', tables: Object.entries(byNamespace).map(([name, rows]) => ({ name, rows })) }];
  }
  return { auth: 'none', severity: rateExposure('none', 'code-execution'), title: 'kubelet API open without authentication', evidence, reproduce };
}

export const kubeletProbe: Probe = {
  id: 'kubelet',
  service: 'kubelet',
  title: 'Kubernetes kubelet API',
  ports: [10250, 10255],
  tlsPorts: [10250],
  tags: ['control-plane', 'code-execution'],
  levels: {
    fingerprint: "GET /pods and expects a v1 PodList (or the kubelet's 403 naming system:anonymous and the nodes resource).",
    'auth-check': 'The same GET /pods with no token. Never /run, /exec, /attach or /portForward.',
    metadata: 'Pod counts per namespace from the same answer; specs are never kept.',
  },
  remediation:
    'Start kubelets with --anonymous-auth=false and --authorization-mode=Webhook, disable the read-only port ' +
    '(--read-only-port=0), and firewall 10250/10255 so only the control plane reaches them.',
  fingerprint,
  assess,
};
