/**
 * The Kubernetes API server. `GET /version` is often open to anonymous callers and only identifies the
 * server; listing namespaces with no token is the proof. 401 means anonymous authentication is off; 403
 * means it is on but RBAC denies (worth a note, not an exposure). Only counts are kept; Secrets are never
 * listed. HTTPS on 6443 (tried first there); plain HTTP on the insecure port, `kubectl proxy` and front ends.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { curlCommand, isRecord, requestJson, type JsonReply } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const NAMESPACES = '/api/v1/namespaces?limit=500';
const PODS = '/api/v1/pods?limit=500';

/** The API server's error shape: `{"kind":"Status","apiVersion":"v1","status":"Failure","code":401|403,…}`. */
function statusFailure(reply: JsonReply): { code: number; message: string } | undefined {
  const body = reply.json;
  if (!isRecord(body) || body.kind !== 'Status' || body.apiVersion !== 'v1' || body.status !== 'Failure' || typeof body.code !== 'number') return undefined;
  return { code: body.code, message: typeof body.message === 'string' ? body.message : '' };
}

/** Item count of a list answer, counting what a `limit` left for later pages. */
function listCount(reply: JsonReply, kind: string): number | undefined {
  const body = reply.json;
  if (reply.status !== 200 || !isRecord(body) || body.kind !== kind || !Array.isArray(body.items)) return undefined;
  const remaining = isRecord(body.metadata) && typeof body.metadata.remainingItemCount === 'number' ? body.metadata.remainingItemCount : 0;
  return body.items.length + remaining;
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const reply = await requestJson(ctx, '/version', { maxBytes: 16 * 1024 });
  if (isFailure(reply)) return undefined;
  const failure = statusFailure(reply);
  if (failure && (failure.code === 401 || failure.code === 403)) return { service: 'kubernetes', details: { authRequired: true } };
  if (reply.status !== 200 || !isRecord(reply.json)) return undefined;
  const { gitVersion, major, minor, platform } = reply.json;
  if (typeof gitVersion !== 'string' || typeof major !== 'string' || typeof minor !== 'string' || typeof platform !== 'string') return undefined;
  return { service: 'kubernetes', version: gitVersion, details: { platform } };
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const reproduce = curlCommand(ctx, NAMESPACES);
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('Kubernetes API server', evidence);
  const listed = await requestJson(ctx, NAMESPACES, { maxBytes: 2 * 1024 * 1024 });
  if (isFailure(listed)) return accessUnclear('Kubernetes API server', evidence, `the namespace list gave no answer: ${listed.reason}`);
  const failure = statusFailure(listed);
  if (failure?.code === 401)
    return authRequired('Kubernetes API server', evidence, 'the namespace list was refused (401): anonymous authentication is off', reproduce);
  if (failure?.code === 403) {
    const anonymous = /system:anonymous/.test(failure.message)
      ? 'anonymous authentication is on but RBAC denies the list'
      : 'the caller is not allowed to list namespaces';
    return authRequired('Kubernetes API server', evidence, `the namespace list was refused (403): ${anonymous}`, reproduce);
  }
  const namespaces = listCount(listed, 'NamespaceList');
  if (namespaces === undefined)
    return accessUnclear('Kubernetes API server', evidence, `the namespace list answered HTTP ${listed.status} without a NamespaceList`);
  evidence.notes.push('namespaces listed with no token: anonymous users can read the cluster API');
  if (levelAllowed('metadata', ctx.maxLevel)) {
    evidence.notes.push(`${namespaces} namespace(s)`);
    const pods = await requestJson(ctx, PODS, { maxBytes: 8 * 1024 * 1024 });
    const podCount = isFailure(pods) ? undefined : listCount(pods, 'PodList');
    if (podCount !== undefined) evidence.notes.push(`${podCount} pod(s) readable, specs not reported`);
  }
  return {
    auth: 'none',
    severity: rateExposure('none', 'code-execution'),
    title: 'Kubernetes API server readable without authentication',
    evidence,
    reproduce,
  };
}

export const kubernetesProbe: Probe = {
  id: 'kubernetes',
  service: 'kubernetes',
  title: 'Kubernetes API server',
  ports: [6443, 8080, 8001],
  tlsPorts: [6443],
  tags: ['control-plane', 'code-execution'],
  levels: {
    fingerprint: 'GET /version and expects gitVersion, major, minor and platform (or a v1 Status failure with 401/403).',
    'auth-check': `GET ${NAMESPACES} with no token.`,
    metadata: `Counts only: namespaces from the same answer and pods (GET ${PODS}). Secrets are never listed; pod specs are never kept.`,
  },
  remediation:
    'Run the API server with --anonymous-auth=false (or bind no roles to system:anonymous / system:unauthenticated), never ' +
    'serve the insecure port or an unauthenticated kubectl proxy, and keep the API server on a private network behind ' +
    'a firewall or an authenticated endpoint.',
  fingerprint,
  assess,
};
