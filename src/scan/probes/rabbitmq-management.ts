/**
 * The RabbitMQ management API (15672). Without credentials it answers 401 from its own realm, which is the
 * fingerprint; there is no anonymous access, so the only exposure is a default login: with
 * --default-credentials, guest/guest is tried (RabbitMQ allows it only from localhost unless loopback_users
 * was changed). Only overview counts and vhost names are read: no definitions export, no publish, no purge.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { header } from '../transports/http.js';
import { basicAuth, isRecord, refusesAnonymous, requestJson, type JsonReply } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { guestAcceptedNote } from './rabbitmq-amqp.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const DEFAULT_LOGIN = { user: 'guest', password: 'guest' };

const isManagementRefusal = (reply: JsonReply) => reply.status === 401 && /realm="RabbitMQ Management"/i.test(header(reply, 'www-authenticate') ?? '');

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const overview = await requestJson(ctx, '/api/overview', { maxBytes: 256 * 1024 });
  if (isFailure(overview)) return undefined;
  if (isManagementRefusal(overview)) return { service: 'rabbitmq', details: { product: 'RabbitMQ management API' } };
  if (
    overview.status !== 200 ||
    !isRecord(overview.json) ||
    typeof overview.json.rabbitmq_version !== 'string' ||
    typeof overview.json.management_version !== 'string'
  )
    return undefined;
  return { service: 'rabbitmq', version: overview.json.rabbitmq_version, details: { product: 'RabbitMQ management API' } };
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const product = 'RabbitMQ management API';
  const evidence: Evidence = { version: fp.version, notes: [] };
  const base = `http://${ctx.host}:${ctx.port}`;
  let reproduce = `curl -s -o /dev/null -w '%{http_code}\\n' ${base}/api/overview`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked(product, evidence);
  const anonymous = await requestJson(ctx, '/api/overview', { maxBytes: 256 * 1024 });
  if (isFailure(anonymous)) return accessUnclear(product, evidence, `/api/overview gave no answer: ${anonymous.reason}`);
  if (!refusesAnonymous(anonymous)) return accessUnclear(product, evidence, `/api/overview answered HTTP ${anonymous.status} without credentials`);
  const why = `/api/overview refused without credentials (HTTP ${anonymous.status})`;
  if (!ctx.defaultCredentials || !levelAllowed('default-credentials', ctx.maxLevel)) return authRequired(product, evidence, why, reproduce);
  const headers = basicAuth(DEFAULT_LOGIN.user, DEFAULT_LOGIN.password);
  const whoami = await requestJson(ctx, '/api/whoami', { headers, maxBytes: 16 * 1024 });
  if (isFailure(whoami) || whoami.status !== 200 || !isRecord(whoami.json))
    return authRequired(product, evidence, `${why}; guest/guest was refused`, reproduce);
  evidence.credentialsAccepted = `${DEFAULT_LOGIN.user}:published default password`;
  evidence.user = DEFAULT_LOGIN.user;
  const tags = Array.isArray(whoami.json.tags)
    ? whoami.json.tags.map(String)
    : typeof whoami.json.tags === 'string'
      ? whoami.json.tags.split(',').filter(Boolean)
      : [];
  if (tags.length) evidence.privileges = tags.map((t) => `tag ${t}`);
  evidence.notes.push(guestAcceptedNote(ctx.host));
  // curl prompts for the password, so the command carries no secret.
  reproduce = `curl -s -u ${DEFAULT_LOGIN.user} ${base}/api/whoami`;
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const overview = await requestJson(ctx, '/api/overview', { headers, maxBytes: 256 * 1024 });
    if (!isFailure(overview) && isRecord(overview.json)) {
      if (typeof overview.json.rabbitmq_version === 'string') evidence.version = overview.json.rabbitmq_version;
      const totals = isRecord(overview.json.object_totals) ? overview.json.object_totals : {};
      const counts = ['queues', 'exchanges', 'connections', 'channels', 'consumers']
        .filter((k) => typeof totals[k] === 'number')
        .map((k) => `${totals[k]} ${k}`);
      if (counts.length) evidence.notes.push(counts.join(', '));
    }
    const vhosts = await requestJson(ctx, '/api/vhosts', { headers, maxBytes: 256 * 1024 });
    if (!isFailure(vhosts) && Array.isArray(vhosts.json)) {
      const names = vhosts.json.map((v) => (isRecord(v) ? v.name : undefined)).filter((n): n is string => typeof n === 'string');
      evidence.databases = [{ name: 'vhosts', tables: names.map((name) => ({ name })) }];
    }
  }
  return {
    auth: 'default-credentials',
    severity: rateExposure('default-credentials', 'broker'),
    title: 'RabbitMQ management API accepts the default guest/guest login',
    evidence,
    reproduce,
  };
}

export const rabbitmqManagementProbe: Probe = {
  id: 'rabbitmq-management',
  service: 'rabbitmq',
  title: 'RabbitMQ management API',
  ports: [15672],
  tags: ['broker', 'dashboard'],
  levels: {
    fingerprint: 'GET /api/overview and expects a 401 from realm "RabbitMQ Management" (or the overview itself).',
    'auth-check': 'The same GET /api/overview with no credentials (the API has no anonymous access).',
    'default-credentials':
      'GET /api/whoami with Basic guest/guest; then GET /api/overview (object totals) and GET /api/vhosts (names). Never definitions, publish or purge.',
  },
  remediation:
    'Delete the guest user or change its password, keep loopback_users.guest = true, bind the management listener to ' +
    'a private interface (management.tcp.ip) with TLS, and firewall 15672.',
  fingerprint,
  assess,
};
