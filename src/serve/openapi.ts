/** The API as OpenAPI 3.0, served at /openapi.json. Every operation needs a Warden key (bearer). */
import { SEVERITIES } from '../severity.js';

const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errors = {
  '401': { description: 'No valid key' },
  '403': { description: 'The key lacks the scope, or may not be used from this address' },
  '429': { description: "Too many wrong keys from this address (see Retry-After), or the key's own rate limit or quota" },
};
const findingPath = [
  { name: 'inventory', in: 'path', required: true, schema: { type: 'string' } },
  { name: 'findingId', in: 'path', required: true, description: 'service:host:port, URL-encoded', schema: { type: 'string' } },
];

export const SERVE_OPENAPI = {
  openapi: '3.0.3',
  info: { title: 'Warden serve', version: '1', description: 'Continuous exposure monitoring: runs, findings, their history and acknowledgements.' },
  components: {
    securitySchemes: {
      wardenKey: { type: 'http', scheme: 'bearer', description: 'A Warden key with serve:read (reads), serve:admin (changes) or metrics:read (/metrics).' },
    },
    schemas: {
      Run: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          inventory: { type: 'string' },
          status: {
            enum: ['running', 'succeeded', 'partial', 'failed', 'interrupted'],
            description: 'partial: a distributed run whose deadline passed with some shards missing; it resolved nothing',
          },
          trigger: { type: 'string' },
          startedAt: { type: 'integer', description: 'epoch ms' },
          finishedAt: { type: 'integer', nullable: true },
          findings: { type: 'integer', nullable: true },
          newCount: { type: 'integer', nullable: true },
          changedCount: { type: 'integer', nullable: true },
          resolvedCount: { type: 'integer', nullable: true },
          unconfirmedCount: { type: 'integer', nullable: true },
          error: { type: 'string', nullable: true },
          shards: { type: 'integer', nullable: true, description: 'shards enqueued in distributed mode (scan and re-check)' },
        },
      },
      Finding: {
        type: 'object',
        properties: {
          inventory: { type: 'string' },
          id: { type: 'string' },
          service: { type: 'string' },
          host: { type: 'string' },
          port: { type: 'integer' },
          severity: { enum: [...SEVERITIES] },
          auth: { type: 'string' },
          title: { type: 'string' },
          evidence: { type: 'object', description: 'Names and counts only, redacted' },
          state: { enum: ['open', 'resolved'] },
          firstSeen: { type: 'integer' },
          lastSeen: { type: 'integer' },
          flapping: { type: 'boolean' },
          acknowledgement: { nullable: true, ...ref('Acknowledgement') },
        },
      },
      Acknowledgement: {
        type: 'object',
        required: ['kind', 'reason'],
        properties: {
          kind: { enum: ['acknowledge', 'suppress'] },
          reason: { type: 'string', maxLength: 500 },
          expiresAt: { type: 'integer', nullable: true, description: 'epoch ms; null never expires' },
          expiresIn: { type: 'string', description: 'instead of expiresAt: 12h, 7d, 30d' },
        },
      },
    },
  },
  security: [{ wardenKey: [] }],
  paths: {
    '/api/v1/inventories': { get: { summary: 'Inventories with their schedule and last run', responses: { '200': { description: 'ok' }, ...errors } } },
    '/api/v1/summary': { get: { summary: 'Open findings by severity now and after each run', responses: { '200': { description: 'ok' }, ...errors } } },
    '/api/v1/runs': {
      get: {
        summary: 'Recent runs, newest first',
        parameters: [
          { name: 'inventory', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 1000 } },
        ],
        responses: { '200': { description: 'ok', ...json({ type: 'object', properties: { runs: { type: 'array', items: ref('Run') } } }) }, ...errors },
      },
      post: {
        summary: 'Start a run of an inventory now (serve:admin)',
        requestBody: json({ type: 'object', required: ['inventory'], properties: { inventory: { type: 'string' } } }),
        responses: {
          '202': { description: 'started', ...json(ref('Run')) },
          '404': { description: 'no such inventory' },
          '409': { description: 'a run of it is in progress' },
          ...errors,
        },
      },
    },
    '/api/v1/runs/{runId}': {
      get: {
        summary: 'One run',
        parameters: [{ name: 'runId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'ok', ...json(ref('Run')) }, '404': { description: 'not found' }, ...errors },
      },
    },
    '/api/v1/findings': {
      get: {
        summary: 'Findings, most severe first',
        parameters: ['state', 'inventory', 'severity', 'limit', 'offset'].map((name) => ({
          name,
          in: 'query',
          schema: { type: name === 'limit' || name === 'offset' ? 'integer' : 'string' },
        })),
        responses: { '200': { description: 'ok', ...json({ type: 'object', properties: { findings: { type: 'array', items: ref('Finding') } } }) }, ...errors },
      },
    },
    '/api/v1/findings/{inventory}/{findingId}': {
      get: {
        summary: 'A finding with its timeline',
        parameters: findingPath,
        responses: { '200': { description: 'ok' }, '404': { description: 'not found' }, ...errors },
      },
    },
    '/api/v1/findings/{inventory}/{findingId}/acknowledgement': {
      put: {
        summary: 'Acknowledge or suppress (serve:admin)',
        parameters: findingPath,
        requestBody: json(ref('Acknowledgement')),
        responses: { '200': { description: 'ok' }, '400': { description: 'bad request' }, '404': { description: 'not found' }, ...errors },
      },
      delete: {
        summary: 'Remove an acknowledgement (serve:admin)',
        parameters: findingPath,
        responses: { '204': { description: 'removed' }, '404': { description: 'none' }, ...errors },
      },
    },
    '/metrics': { get: { summary: 'Prometheus metrics (metrics:read)', responses: { '200': { description: 'text/plain; version=0.0.4' }, ...errors } } },
  },
} as const;
