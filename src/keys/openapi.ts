/** OpenAPI 3.1 description of the key server, served at /openapi.json. */
const error = { $ref: '#/components/responses/Error' };
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const admin = [{ bearer: [] }];
/** The key id in a path such as /v1/keys/{id}. */
const idInPath = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];

export const KEY_OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'Warden keys',
    version: '1',
    description:
      'Issue, verify, rotate and revoke Warden API keys, and receive leak reports. Send a Warden key as `Authorization: Bearer <key>`; admin routes need the scope admin:keys. Keys are returned only by create and rotate, once.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A Warden key' } },
    responses: { Error: { description: 'Refused or failed', ...json({ $ref: '#/components/schemas/Error' }) } },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
      },
      Verification: {
        type: 'object',
        description: 'Always this shape; an unknown key and another tenant\'s key answer reason "unknown" with every other field null.',
        required: ['valid', 'reason', 'keyId', 'owner', 'name', 'scopes', 'expiresAt'],
        properties: {
          valid: { type: 'boolean' },
          reason: { enum: [null, 'unknown', 'revoked', 'disabled', 'expired', 'scope', 'ip', 'rate_limited', 'quota_exhausted', 'unavailable'] },
          keyId: { type: ['string', 'null'] },
          owner: { type: ['string', 'null'] },
          name: { type: ['string', 'null'] },
          scopes: { type: ['array', 'null'], items: { type: 'string' } },
          expiresAt: { type: ['integer', 'null'], description: 'epoch milliseconds' },
        },
      },
      KeyInfo: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          display: { type: 'string', description: 'prefix, environment and last 4 characters' },
          owner: { type: 'string' },
          name: { type: 'string' },
          scopes: { type: 'array', items: { type: 'string' } },
          status: { enum: ['active', 'rotating', 'revoked', 'disabled', 'expired'] },
          allowedIps: { type: ['array', 'null'], items: { type: 'string' } },
          expiresAt: { type: ['integer', 'null'] },
          rateLimit: { type: ['object', 'null'], properties: { limit: { type: 'integer' }, windowMs: { type: 'integer' } } },
          quota: { type: ['object', 'null'] },
          leakPolicy: { enum: ['revoke', 'disable', 'notify'] },
          revokedAt: { type: ['integer', 'null'] },
          revokeReason: { type: ['string', 'null'] },
          rotatedTo: { type: ['string', 'null'] },
          createdAt: { type: 'integer' },
          lastUsedAt: { type: ['integer', 'null'] },
          lastUsedIp: { type: ['string', 'null'] },
        },
      },
      CreateKey: {
        type: 'object',
        required: ['owner', 'name', 'scopes'],
        properties: {
          owner: { type: 'string' },
          name: { type: 'string' },
          scopes: { type: 'array', items: { type: 'string' }, examples: [['models:read', 'chat:write']] },
          env: { enum: ['live', 'test'] },
          expiresAt: { type: ['integer', 'null'] },
          allowedIps: { type: 'array', items: { type: 'string' }, description: 'CIDR ranges or addresses' },
          rate: { type: 'string', examples: ['100/min'] },
          quota: { type: 'string', examples: ['10000/month', '50000'] },
          leakPolicy: { enum: ['revoke', 'disable', 'notify'] },
        },
      },
      LeakOutcome: {
        type: 'object',
        properties: { tokenHash: { type: 'string', description: 'SHA-256 of the token, hex' }, label: { enum: ['true_positive', 'false_positive'] } },
      },
    },
  },
  paths: {
    '/v1/keys': {
      get: {
        summary: 'List keys (never the keys themselves)',
        security: admin,
        parameters: [{ name: 'owner', in: 'query', schema: { type: 'string' } }],
        responses: {
          200: { description: 'Keys', ...json({ type: 'object', properties: { keys: { type: 'array', items: { $ref: '#/components/schemas/KeyInfo' } } } }) },
          default: error,
        },
      },
      post: {
        summary: 'Create a key; the response holds the key, shown this once',
        security: admin,
        requestBody: json({ $ref: '#/components/schemas/CreateKey' }),
        responses: {
          201: {
            description: 'Created',
            ...json({ allOf: [{ $ref: '#/components/schemas/KeyInfo' }, { type: 'object', properties: { key: { type: 'string' } } }] }),
          },
          default: error,
        },
      },
    },
    '/v1/keys/{id}': {
      get: {
        summary: 'Show a key',
        security: admin,
        parameters: idInPath,
        responses: { 200: { description: 'Key', ...json({ $ref: '#/components/schemas/KeyInfo' }) }, default: error },
      },
    },
    '/v1/keys/{id}/revoke': {
      post: {
        summary: 'Revoke a key now',
        security: admin,
        parameters: idInPath,
        requestBody: json({ type: 'object', properties: { reason: { type: 'string' } } }),
        responses: { 200: { description: 'Revoked', ...json({ $ref: '#/components/schemas/KeyInfo' }) }, default: error },
      },
    },
    '/v1/keys/{id}/rotate': {
      post: {
        summary: 'Issue a successor; the old key works for overlapMs more',
        security: admin,
        parameters: idInPath,
        requestBody: json({ type: 'object', properties: { overlapMs: { type: 'integer', minimum: 0 } } }),
        responses: { 200: { description: 'Successor (with its key) and the previous key', ...json({ type: 'object' }) }, default: error },
      },
    },
    '/v1/keys/verify': {
      post: {
        summary: 'Verify a key (always 200 with a Verification)',
        description: 'Needs keys:verify or admin:keys.',
        security: admin,
        requestBody: json({
          type: 'object',
          required: ['key'],
          properties: { key: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } }, ip: { type: 'string' }, tenant: { type: 'string' } },
        }),
        responses: { 200: { description: 'Verdict', ...json({ $ref: '#/components/schemas/Verification' }) }, default: error },
      },
    },
    '/v1/leaks': {
      post: {
        summary: 'Report leaked tokens (any scanner; needs leaks:report)',
        security: admin,
        requestBody: json({
          type: 'object',
          required: ['tokens'],
          properties: {
            tokens: {
              type: 'array',
              items: {
                type: 'object',
                required: ['token', 'url'],
                properties: { token: { type: 'string' }, url: { type: 'string' }, source: { type: 'string' } },
              },
            },
          },
        }),
        responses: {
          200: {
            description: 'One outcome per token, in order',
            ...json({ type: 'object', properties: { results: { type: 'array', items: { $ref: '#/components/schemas/LeakOutcome' } } } }),
          },
          default: error,
        },
      },
    },
    '/v1/leaks/github': {
      post: {
        summary: 'GitHub secret scanning partner endpoint',
        description:
          'Body: a JSON array of {token, type, url, source}. Authenticated by an ECDSA P-256 SHA-256 signature over the raw body (headers Github-Public-Key-Identifier, Github-Public-Key-Signature). Idempotent. Answers GitHub feedback labels.',
        parameters: [
          { name: 'Github-Public-Key-Identifier', in: 'header', required: true, schema: { type: 'string' } },
          { name: 'Github-Public-Key-Signature', in: 'header', required: true, schema: { type: 'string' } },
        ],
        requestBody: json({
          type: 'array',
          items: { type: 'object', properties: { token: { type: 'string' }, type: { type: 'string' }, url: { type: 'string' }, source: { type: 'string' } } },
        }),
        responses: {
          200: {
            description: 'Labels',
            ...json({
              type: 'array',
              items: {
                type: 'object',
                properties: { token_hash: { type: 'string' }, token_type: { type: 'string' }, label: { enum: ['true_positive', 'false_positive'] } },
              },
            }),
          },
          default: error,
        },
      },
    },
    '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
  },
} as const;
