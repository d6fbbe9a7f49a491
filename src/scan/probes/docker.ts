/**
 * The Docker Engine API on TCP: plain on 2375, TLS on 2376. TLS without --tlsverify encrypts but
 * authenticates no one; with --tlsverify the handshake needs a client certificate and the probe gets no
 * answer. Whoever reaches the API can start a privileged container, which is root on the host, so an open
 * API is a code-execution surface whatever it holds. `GET /version`
 * identifies it and `GET /info` proves access; only counts are kept. The probe never POSTs: no container is
 * created, started or exec'd, and container details (whose environment often holds secrets) are never read.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { curlCommand, isRecord, requestJson, type JsonReply } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

/** An authorization plugin's refusal: 403 `{"message":"authorization denied by plugin …"}`. */
const isPluginRefusal = (reply: JsonReply) =>
  reply.status === 403 && isRecord(reply.json) && typeof reply.json.message === 'string' && /authorization denied by plugin/i.test(reply.json.message);

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const reply = await requestJson(ctx, '/version', { maxBytes: 16 * 1024 });
  if (isFailure(reply)) return undefined;
  if (isPluginRefusal(reply)) return { service: 'docker', details: { authRequired: true } };
  if (reply.status !== 200 || !isRecord(reply.json)) return undefined;
  const { ApiVersion: api, MinAPIVersion: minApi, Version: version, Os: os } = reply.json;
  if (typeof api !== 'string' || typeof minApi !== 'string') return undefined;
  return { service: 'docker', ...(typeof version === 'string' ? { version } : {}), details: { apiVersion: api, ...(typeof os === 'string' ? { os } : {}) } };
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const reproduce = curlCommand(ctx, '/info');
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('Docker Engine API', evidence);
  const info = await requestJson(ctx, '/info', { maxBytes: 512 * 1024 });
  if (isFailure(info)) return accessUnclear('Docker Engine API', evidence, `/info gave no answer: ${info.reason}`);
  if (isPluginRefusal(info) || info.status === 401)
    return authRequired('Docker Engine API', evidence, `/info refused (HTTP ${info.status}) by an authorization layer`, reproduce);
  if (info.status !== 200 || !isRecord(info.json) || typeof info.json.Containers !== 'number')
    return accessUnclear('Docker Engine API', evidence, `/info answered HTTP ${info.status} without engine facts`);
  evidence.notes.push('/info answered without credentials: anyone can start a privileged container (root on the host)');
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const { Containers, ContainersRunning, Images, OperatingSystem } = info.json;
    evidence.notes.push(`${Containers} container(s) (${Number(ContainersRunning ?? 0)} running), ${Number(Images ?? 0)} image(s)`);
    if (typeof OperatingSystem === 'string') evidence.notes.push(`host OS ${OperatingSystem}`);
  }
  return {
    auth: 'none',
    severity: rateExposure('none', 'code-execution'),
    title: 'Docker Engine API open without authentication (root on the host)',
    evidence,
    reproduce,
  };
}

export const dockerProbe: Probe = {
  id: 'docker',
  service: 'docker',
  title: 'Docker Engine API',
  ports: [2375, 2376],
  tlsPorts: [2376],
  tags: ['code-execution', 'container'],
  levels: {
    fingerprint: "GET /version and expects ApiVersion and MinAPIVersion (or an authorization plugin's 403).",
    'auth-check': "GET /info with no credentials. Never POST: creating or exec'ing a container runs code.",
    metadata: 'Container, running-container and image counts and the host OS from the same answer. Containers are never inspected.',
  },
  remediation:
    'Never expose the Docker socket over plain TCP: remove -H tcp://… (or "hosts" in daemon.json), or require mutual TLS ' +
    '(--tlsverify on 2376 with client certificates), or reach the daemon over SSH (DOCKER_HOST=ssh://…); firewall 2375/2376.',
  fingerprint,
  assess,
};
