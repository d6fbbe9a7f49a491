/**
 * A seeded generator of clean log lines: what fills an AI gateway's and its neighbours' logs when no
 * credential has leaked. Request ids, UUIDs, trace ids, digests, base64 payloads, embeddings, token
 * counts, placeholders and documentation keys are all here, because they are what a secret rule must
 * not mistake for a secret. Used by the false-positive and recall tests; never shipped.
 */
import { CHARSETS, seededRandom } from './samples.js';

export interface LineGenerator {
  /** A short name for failure messages. */
  kind: string;
  make: (r: CorpusRandom) => string;
}

export class CorpusRandom {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chars(charset: keyof typeof CHARSETS | string, n: number): string {
    const set = CHARSETS[charset] ?? charset;
    let out = '';
    for (let i = 0; i < n; i++) out += set[Math.floor(this.next() * set.length)];
    return out;
  }
  hex(n: number): string {
    return this.chars('hex', n);
  }
  uuid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${this.pick(['8', '9', 'a', 'b'])}${this.hex(3)}-${this.hex(12)}`;
  }
  ip(): string {
    return `10.${this.int(0, 255)}.${this.int(0, 255)}.${this.int(1, 254)}`;
  }
  timestamp(): string {
    return `2025-01-${String(this.int(10, 28)).padStart(2, '0')}T${String(this.int(0, 23)).padStart(2, '0')}:${String(this.int(0, 59)).padStart(2, '0')}:${String(this.int(0, 59)).padStart(2, '0')}.${String(this.int(0, 999)).padStart(3, '0')}Z`;
  }
}

const MODELS = [
  'gpt-4o-mini',
  'gpt-4o-2024-08-06',
  'o3-mini',
  'claude-3-5-sonnet-20241022',
  'claude-3-haiku-20240307',
  'deepseek-chat',
  'deepseek-reasoner',
  'mistral-large-latest',
  'meta-llama/Llama-3.1-8B-Instruct',
  'accounts/fireworks/models/llama-v3p1-70b-instruct',
  'gemini-1.5-pro-002',
  'text-embedding-3-small',
  'command-r-plus',
];
const PATHS = ['/v1/chat/completions', '/v1/embeddings', '/v1/messages', '/v1/completions', '/v1/models', '/v1/responses', '/healthz', '/metrics'];
const AGENTS = [
  'python-requests/2.31.0',
  'OpenAI/Python 1.59.7',
  'Anthropic/JS 0.33.1',
  'curl/8.5.0',
  'Go-http-client/2.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
];
const PROSE = [
  'Your password reset link has expired; request a new one from the sign-in page.',
  'The secret sauce is aggressive prompt caching: repeated system prompts cost a tenth as much.',
  'Each token costs $0.00015 on input and $0.0006 on output.',
  'Bearer tokens are sent in the Authorization header; never put them in a query string.',
  'To rotate a key, create a new one, deploy it, then revoke the old key.',
  'Session expired, please log in again.',
  'Set OPENAI_API_KEY in your environment before running the examples.',
  'The tokenizer splits this sentence into eleven tokens.',
  'A password must be at least 12 characters long.',
  'Use a secret manager rather than environment variables for production keys.',
  'The API key you provided is invalid or has been revoked.',
  'Refresh tokens are rotated on every use.',
  'what is the capital of France?',
  'Write a haiku about Kubernetes secrets and token limits.',
  'Summarise the following access log and point out anything suspicious.',
];

function chatRequest(r: CorpusRandom): string {
  const prompt = r.int(8, 4000);
  const completion = r.int(1, 1200);
  return JSON.stringify({
    ts: r.timestamp(),
    level: 'info',
    msg: 'request completed',
    request_id: `req_${r.chars('alnum', 24)}`,
    trace_id: r.hex(32),
    span_id: r.hex(16),
    method: 'POST',
    path: r.pick(PATHS),
    status: r.pick([200, 200, 200, 400, 401, 429, 500]),
    model: r.pick(MODELS),
    user: `user_${r.chars('lowernum', 10)}`,
    latency_ms: r.int(40, 30000),
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: r.int(0, prompt) },
    },
    max_tokens: r.pick([256, 1024, 4096, 8192]),
    temperature: r.pick([0, 0.2, 0.7, 1]),
    stream: r.pick([true, false]),
  });
}

function chatResponse(r: CorpusRandom): string {
  return JSON.stringify({
    id: `chatcmpl-${r.chars('alnum', 29)}`,
    object: 'chat.completion',
    created: r.int(1736000000, 1738000000),
    model: r.pick(MODELS),
    system_fingerprint: `fp_${r.hex(10)}`,
    choices: [{ index: 0, message: { role: 'assistant', content: r.pick(PROSE), refusal: null }, logprobs: null, finish_reason: r.pick(['stop', 'length']) }],
    usage: {
      prompt_tokens: r.int(5, 900),
      completion_tokens: r.int(5, 900),
      total_tokens: r.int(10, 1800),
      completion_tokens_details: { reasoning_tokens: 0 },
    },
  });
}

function anthropicMessage(r: CorpusRandom): string {
  return JSON.stringify({
    id: `msg_01${r.chars('alnum', 22)}`,
    type: 'message',
    role: 'assistant',
    model: r.pick(MODELS),
    content: [{ type: 'text', text: r.pick(PROSE) }],
    stop_reason: 'end_turn',
    usage: { input_tokens: r.int(5, 9000), output_tokens: r.int(5, 900), cache_creation_input_tokens: 0, cache_read_input_tokens: r.int(0, 5000) },
  });
}

function streamChunk(r: CorpusRandom): string {
  const word = r.pick([' token', ' the', ' secret', ' password', ' key', '.', ' Paris', '\n']);
  return `data: ${JSON.stringify({ id: `chatcmpl-${r.chars('alnum', 29)}`, object: 'chat.completion.chunk', created: r.int(1736000000, 1738000000), model: r.pick(MODELS), choices: [{ index: 0, delta: { content: word }, logprobs: null, finish_reason: null }] })}`;
}

function logprobs(r: CorpusRandom): string {
  const token = r.pick([' the', ' token', 'Hello', ' secret', '<|endoftext|>', ' API', ' key']);
  return JSON.stringify({ token, logprob: -r.int(0, 99999) / 10000, bytes: [...Buffer.from(token)], top_logprobs: [{ token: ' a', logprob: -2.1 }] });
}

function embedding(r: CorpusRandom): string {
  const values = Array.from({ length: 24 }, () => (r.int(-99999999, 99999999) / 1e10).toString());
  return `{"object":"embedding","index":${r.int(0, 99)},"embedding":[${values.join(',')}],"model":"text-embedding-3-small","usage":{"prompt_tokens":${r.int(1, 500)},"total_tokens":${r.int(1, 500)}}}`;
}

function base64Payload(r: CorpusRandom): string {
  return r.pick([
    () => JSON.stringify({ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${r.chars('base64', 400)}=` } }] }),
    () => JSON.stringify({ created: r.int(1736000000, 1738000000), data: [{ b64_json: r.chars('base64', 600) + '==' }] }),
    () => JSON.stringify({ audio: { id: `audio_${r.hex(32)}`, data: r.chars('base64', 300), format: 'wav', transcript: r.pick(PROSE) } }),
    () => JSON.stringify({ file_id: `file-${r.chars('alnum', 24)}`, purpose: 'batch', bytes: r.int(100, 1e8), content_md5: r.chars('base64', 22) + '==' }),
    () => `{"cursor":"eyJpZCI6${r.chars('base64url', 12)}fQ","has_more":true}`,
  ])();
}

function accessLog(r: CorpusRandom): string {
  const path = r.pick([
    () => r.pick(PATHS),
    () => `/v1/files/file-${r.chars('alnum', 24)}/content`,
    () => `/static/js/main.${r.hex(8)}.chunk.js`,
    () => `/api/items?page_token=${r.chars('base64url', 40)}&limit=50`,
    () => `/v1/threads/thread_${r.chars('alnum', 24)}/runs/run_${r.chars('alnum', 24)}`,
    () => `/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21`,
    () => `/?query=SELECT%20count()%20FROM%20logs.requests&user=default&default_format=JSONEachRow`,
    () => `/search?q=token+limit+exceeded&page=${r.int(1, 9)}`,
  ])();
  return `${r.ip()} - - [27/Jan/2025:${r.int(10, 23)}:${r.int(10, 59)}:${r.int(10, 59)} +0000] "${r.pick(['GET', 'POST'])} ${path} HTTP/1.1" ${r.pick([200, 204, 301, 401, 404, 429, 502])} ${r.int(0, 90000)} "-" "${r.pick(AGENTS)}" rt=${(r.int(1, 30000) / 1000).toFixed(3)} request_id=${r.hex(32)}`;
}

function syslog(r: CorpusRandom): string {
  const host = `gw-${r.int(1, 9)}`;
  const stamp = `Jan ${r.int(10, 28)} ${r.int(10, 23)}:${r.int(10, 59)}:${r.int(10, 59)}`;
  return r.pick([
    () =>
      `${stamp} ${host} sshd[${r.int(100, 99999)}]: Accepted publickey for deploy from ${r.ip()} port ${r.int(1024, 65535)} ssh2: ED25519 SHA256:${r.chars('base64', 43)}`,
    () => `${stamp} ${host} sshd[${r.int(100, 99999)}]: Failed password for invalid user admin from ${r.ip()} port ${r.int(1024, 65535)} ssh2`,
    () => `${stamp} ${host} sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart gateway`,
    () => `${stamp} ${host} sshd[${r.int(100, 99999)}]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)`,
    () => `${stamp} ${host} systemd[1]: Started gateway.service - AI gateway (pid ${r.int(100, 99999)}).`,
    () =>
      `${stamp} ${host} kernel: [${r.int(1000, 99999)}.${r.int(100000, 999999)}] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.`,
    () => `${stamp} ${host} CRON[${r.int(100, 99999)}]: (root) CMD (/usr/local/bin/rotate-logs --keep 14)`,
  ])();
}

function kubernetes(r: CorpusRandom): string {
  return r.pick([
    () =>
      `I0127 ${r.int(10, 23)}:${r.int(10, 59)}:${r.int(10, 59)}.${r.int(100000, 999999)}       1 reflector.go:359] Listing and watching *v1.Secret from k8s.io/client-go/informers/factory.go:160`,
    () => `  Normal  Pulled     ${r.int(1, 59)}s  kubelet  Successfully pulled image "ghcr.io/org/gateway@sha256:${r.hex(64)}" in 1.${r.int(100, 999)}s`,
    () => `  Normal  SuccessfulMountVolume  kubelet  MountVolume.SetUp succeeded for volume "kube-api-access-${r.chars('lowernum', 5)}"`,
    () => `  Warning  FailedMount  kubelet  MountVolume.SetUp failed for volume "openai-credentials" : secret "openai-credentials" not found`,
    () => `      OPENAI_API_KEY:  <set to the key 'api-key' in secret 'openai'>  Optional: false`,
    () => `serviceaccount token mounted at /var/run/secrets/kubernetes.io/serviceaccount/token`,
    () =>
      JSON.stringify({
        kind: 'Secret',
        apiVersion: 'v1',
        metadata: { name: 'gateway-tls', namespace: 'ai', uid: r.uuid(), resourceVersion: String(r.int(1000, 9999999)) },
        type: 'kubernetes.io/tls',
      }),
    () => `gateway-${r.chars('lowernum', 10)}-${r.chars('lowernum', 5)}   1/1     Running   0          ${r.int(1, 59)}m    ${r.ip()}   node-${r.int(1, 9)}`,
    () => `secret/gateway-env configured`,
  ])();
}

function stackTrace(r: CorpusRandom): string {
  return r.pick([
    () => `    at Object.<anonymous> (/app/node_modules/openai/core.js:${r.int(10, 999)}:${r.int(1, 80)})`,
    () => `    at async TokenService.refresh (/app/dist/auth/token-service.js:${r.int(10, 999)}:${r.int(1, 80)})`,
    () => `  File "/usr/lib/python3.11/site-packages/httpx/_client.py", line ${r.int(10, 2000)}, in send`,
    () =>
      `openai.AuthenticationError: Error code: 401 - {'error': {'message': 'Incorrect API key provided: sk-proj-${'*'.repeat(40)}${r.chars('alnum', 4)}. You can find your API key at https://platform.openai.com/account/api-keys.', 'type': 'invalid_request_error', 'param': None, 'code': 'invalid_api_key'}}`,
    () => `\tat com.example.gateway.TokenBucket.tryConsume(TokenBucket.java:${r.int(10, 999)})`,
    () => `goroutine ${r.int(1, 999)} [running]:\nmain.(*Proxy).ServeHTTP(0xc000${r.hex(6)}, {0x${r.hex(7)}, 0xc000${r.hex(6)}})`,
    () =>
      `anthropic.RateLimitError: Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'Number of request tokens has exceeded your per-minute rate limit'}}`,
    () => `Error: Rate limit reached for gpt-4o in organization org-${r.chars('alnum', 24)} on tokens per min (TPM): Limit 30000, Used 29876, Requested 512.`,
  ])();
}

function digests(r: CorpusRandom): string {
  return r.pick([
    () => `${r.hex(64)}  model-00001-of-00004.safetensors`,
    () => `{"etag":"\\"${r.hex(32)}\\"","last_modified":"${r.timestamp()}","size":${r.int(1, 1e9)}}`,
    () => `commit ${r.hex(40)}`,
    () => `${r.hex(7)} Merge pull request #${r.int(1, 9999)} from org/fix/token-refresh`,
    () => `Digest: sha256:${r.hex(64)}`,
    () => `${r.hex(12)}: Pull complete`,
    () => `index ${r.hex(7)}..${r.hex(7)} 100644`,
    () => `{"sha1":"${r.hex(40)}","sha256":"${r.hex(64)}","md5":"${r.hex(32)}","blake2b":"${r.hex(128)}"}`,
    () => `cache hit key=${r.hex(64)} ttl=3600`,
    () => `{"fingerprint":"SHA256:${r.chars('base64', 43)}","key_id":"${r.uuid()}"}`,
  ])();
}

function tracing(r: CorpusRandom): string {
  return r.pick([
    () => `traceparent: 00-${r.hex(32)}-${r.hex(16)}-01`,
    () => `x-request-id: ${r.uuid()}`,
    () => `x-amzn-trace-id: Root=1-${r.hex(8)}-${r.hex(24)}`,
    () => `cf-ray: ${r.hex(16)}-FRA`,
    () => JSON.stringify({ 'dd.trace_id': String(r.int(1e9, 9e9)) + String(r.int(1e8, 9e8)), 'dd.span_id': String(r.int(1e9, 9e9)), msg: 'upstream call' }),
    () =>
      JSON.stringify({
        traceId: r.hex(32),
        spanId: r.hex(16),
        parentSpanId: r.hex(16),
        name: 'POST /v1/chat/completions',
        kind: 2,
        startTimeUnixNano: `${r.int(1736000000, 1738000000)}${r.int(100000000, 999999999)}`,
        attributes: [
          { key: 'gen_ai.usage.input_tokens', value: { intValue: String(r.int(1, 9000)) } },
          { key: 'http.request.header.authorization', value: { stringValue: '[REDACTED]' } },
        ],
      }),
    () => `openai-organization: user-${r.chars('lowernum', 24)}`,
    () => `openai-processing-ms: ${r.int(10, 9000)}`,
    () => `x-ratelimit-remaining-tokens: ${r.int(0, 30000)}`,
    () => `x-ratelimit-reset-tokens: ${r.int(1, 999)}ms`,
    () => `anthropic-ratelimit-tokens-remaining: ${r.int(0, 400000)}`,
    () => `request-id: req_${r.chars('alnum', 24)}`,
    () =>
      `set-cookie: __cf_bm=${r.chars('alnum_', 43)}-${r.int(1736000000, 1738000000)}-1.0.1.1-${r.chars('alnum_', 40)}; path=/; expires=Mon, 27-Jan-25 10:45:30 GMT; domain=.example.net; HttpOnly; Secure; SameSite=None`,
    () =>
      `Cookie: _ga=GA1.2.${r.int(1e8, 9e8)}.${r.int(1736000000, 1738000000)}; _gid=GA1.2.${r.int(1e8, 9e8)}.${r.int(1736000000, 1738000000)}; theme=dark; lang=en-US`,
  ])();
}

/** Placeholders and documentation examples: shaped like credentials, never credentials. */
const PLACEHOLDERS = [
  'OPENAI_API_KEY=sk-...',
  'export ANTHROPIC_API_KEY=YOUR_API_KEY',
  'export OPENAI_API_KEY="<your-openai-key>"',
  'Authorization: Bearer <token>',
  'curl https://api.openai.com/v1/chat/completions -H "Authorization: Bearer $OPENAI_API_KEY" -H "Content-Type: application/json"',
  'curl https://api.anthropic.com/v1/messages -H "x-api-key: $ANTHROPIC_API_KEY" -H "anthropic-version: 2023-06-01"',
  'api_key: xxxx',
  'api_key: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
  '"api_key": "${OPENAI_API_KEY}"',
  'password: ********',
  'password: "{{ .Values.db.password }}"',
  'DATABASE_URL=postgres://user:pass@db.example.com:5432/db',
  'DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app',
  'postgres://<user>:<password>@host:5432/db',
  'redis://:${REDIS_PASSWORD}@redis:6379/0',
  'mongodb+srv://<username>:<password>@cluster0.example.mongodb.net/',
  'aws_access_key_id = AKIAIOSFODNN7EXAMPLE',
  'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'token: null',
  'secret: ""',
  'api_key=None',
  "litellm.completion(model='gpt-4o', messages=messages, api_key=None, api_base='https://gateway.internal/v1')",
  'apiKey: process.env.OPENAI_API_KEY,',
  'client = OpenAI(api_key=os.environ["OPENAI_API_KEY"])',
  'const anthropic = new Anthropic({ apiKey: process.env["ANTHROPIC_API_KEY"] });',
  'OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}',
  'x-api-key: [REDACTED]',
  '"authorization":"[REDACTED:openai-project-key:k1.3f9a1c2b7d4e5f60]"',
  'Authorization: Basic <base64(user:password)>',
  'Cookie: sessionid=<session-id>',
  'machine api.example.net login deploy password <token>',
  'password: "%(DB_PASSWORD)s"',
  'DB_PASSWORD=',
  'token = getpass.getpass("Token: ")',
  'password = request.form.get("password")',
  'ClientSecret: !Ref OAuthClientSecret',
  'secretKeyRef: {name: openai, key: api-key}',
  'api_key: os.environ/OPENAI_API_KEY',
  'Parameters: {"user"=>{"email"=>"a@example.com", "password"=>"[FILTERED]"}, "commit"=>"Sign in"}',
  'SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY")',
  'spring.datasource.password=${DB_PASSWORD}',
  'huggingface-cli login --token $HF_TOKEN',
  'password = var.db_password',
  'secret = random_password.db.result',
  'api_key = data.vault_generic_secret.openai.data["key"]',
  '    Password: cfg.Database.Password,',
  '  password: hashedPassword,',
  '  token: generateToken(user.id),',
  "  apiKey: config.get('openai.apiKey'),",
  'String password = System.getenv("DB_PASSWORD");',
  'headers = {"Authorization": f"Bearer {token}"}',
  '"Authorization": "Bearer " + accessToken,',
  'Authorization: Bearer {{token}}',
  '- name: OPENAI_API_KEY',
  '"x-api-key": "***"',
  'secretName: gateway-tls',
  'secret: false',
  '"auth": {"type": "bearer", "required": true}',
  'WWW-Authenticate: Bearer realm="api", error="invalid_token", error_description="The access token expired"',
  'bearer_token_file: /var/run/secrets/kubernetes.io/serviceaccount/token',
  'X-ClickHouse-User: default',
  'clickhouse-client --host 127.0.0.1 --user default --password',
];

/** Configuration and metrics whose names contain credential words but whose values are not secrets. */
function benignConfig(r: CorpusRandom): string {
  return r.pick([
    () => `max_tokens: ${r.int(1, 32000)}`,
    () => `token_count=${r.int(1, 128000)}`,
    () => `api_version: 2024-${String(r.int(1, 12)).padStart(2, '0')}-01-preview`,
    () => `key_id: ${r.uuid()}`,
    () => `"api_key_id": "key_${r.chars('alnum', 24)}"`,
    () => `tokenizer: ${r.pick(['cl100k_base', 'o200k_base', 'meta-llama/Llama-3.1-8B'])}`,
    () => `password_min_length: ${r.int(8, 20)}`,
    () => `secret_name: prod-db-credentials-${r.int(1, 9)}`,
    () => `token_type: Bearer`,
    () => `{"grant_type":"client_credentials","scope":"read:models","token_type":"Bearer","expires_in":3600}`,
    () => `{"next_page_token":"${r.chars('base64url', 48)}","page_size":50}`,
    () => `"nextPageToken": "${r.chars('base64url', 60)}"`,
    () => `[AWS s3 200 0.${r.int(100, 999)}s 0 retries] listObjectsV2({ Bucket: 'ai-logs', ContinuationToken: '${r.chars('base64', 88)}' })`,
    () => `{"eos_token":"<|endoftext|>","bos_token":"<s>","pad_token":"[PAD]","model_max_length":8192}`,
    () => `{"session_id":"${r.uuid()}","conversation_id":"${r.uuid()}","token":${r.int(0, 100000)}}`,
    () => `{"id":"cus_${r.chars('alnum', 14)}","object":"customer","livemode":false}`,
    () => `"idempotency_key": "${r.uuid()}"`,
    () => `auth: true`,
    () => `auth_enabled=false password_auth=disabled`,
    () => `SECRET_KEY_FILE=/run/secrets/django_key`,
    () => `{"key":"${r.uuid()}","partition":${r.int(0, 31)},"offset":${r.int(0, 1e9)}}`,
    () => `token: ${r.hex(64)}`,
    () => `secret: ${r.uuid()}`,
    () => `rate_limit.tokens_per_minute=${r.int(1000, 2000000)}`,
    () => `cache_key=${r.hex(40)}`,
    () => `"password_changed":${r.pick(['true', 'false'])},"password_updated_at":"${r.timestamp()}"`,
    () => `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    () => `PWD=/srv/gateway`,
    () => `"token_usage":{"input":${r.int(1, 9000)},"output":${r.int(1, 900)}},"access_token_expires_at":${r.int(1736000000, 1738000000)}`,
    () => `"secret_version":"${r.int(1, 40)}","authorization_header_present":true`,
    () => `csrfmiddlewaretoken=${r.chars('alnum', 64)}&next=/dashboard`,
    () => `Parameters: {"authenticity_token"=>"${r.chars('base64', 86)}==", "q"=>"token limits"}`,
    () => `Cookie: csrftoken=${r.chars('alnum', 32)}; XSRF-TOKEN=${r.chars('alnum', 40)}; ajs_anonymous_id=${r.uuid()}`,
    () => `{"resume_token":{"_data":"8267${r.hex(60)}"},"operationType":"insert"}`,
    () => `HOSTNAME=gateway-${r.chars('lowernum', 10)}-${r.chars('lowernum', 5)}`,
  ])();
}

function services(r: CorpusRandom): string {
  return r.pick([
    () =>
      `2025-01-27 10:15:30.${r.int(100, 999)} UTC [${r.int(100, 99999)}] LOG:  connection authorized: user=app database=app SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)`,
    () => `2025-01-27 10:15:30.${r.int(100, 999)} UTC [${r.int(100, 99999)}] FATAL:  password authentication failed for user "app"`,
    () =>
      `2025.01.27 10:15:30.${r.int(100000, 999999)} [ ${r.int(1, 999)} ] {${r.uuid()}} <Information> executeQuery: (from [::ffff:${r.ip()}]:${r.int(1024, 65535)}, user: default) SELECT count() FROM logs.requests WHERE model = 'gpt-4o' FORMAT JSONEachRow`,
    () => `2025.01.27 10:15:30.${r.int(100000, 999999)} [ ${r.int(1, 999)} ] {} <Debug> HTTPHandler: Request URI: /?query=SELECT%201&database=default`,
    () => `${r.int(1, 9)}:M 27 Jan 2025 10:15:30.${r.int(100, 999)} * Ready to accept connections tcp`,
    () => `2025-01-27T10:15:30.${r.int(100, 999)}Z 0 [Note] Access denied for user 'app'@'${r.ip()}' (using password: YES)`,
    () => `postgres://db.internal:5432/app?sslmode=require`,
    () => `redis://cache.internal:6379/0`,
    () => `http://${r.ip()}:8123/?query=SELECT%20version()`,
    () => `https://api.openai.com/v1/chat/completions`,
    () => `https://github.com/org/gateway/commit/${r.hex(40)}`,
    () => `https://example.com/search?q=password+reset&page=2`,
    () => `git@github.com:org/gateway.git`,
    () => `ssh://git@github.com:22/org/gateway.git`,
    () => `2025-01-27 10:15:30,${r.int(100, 999)} - httpx - INFO - HTTP Request: POST https://api.openai.com/v1/chat/completions "HTTP/1.1 200 OK"`,
    () => `[INFO]  core: successful mount: namespace="" path=secret/ type=kv version=""`,
    () => `level=info ts=${r.timestamp()} caller=main.go:${r.int(10, 999)} msg="token bucket refilled" tokens=${r.int(0, 1000)} capacity=1000`,
  ])();
}

/** Object ids, signatures and encrypted blobs that AI providers return: opaque, random, not credentials. */
function providerIds(r: CorpusRandom): string {
  return r.pick([
    () => JSON.stringify({ object: 'file', id: `file-${r.chars('alnum', 24)}`, filename: `batch_${r.hex(8)}.jsonl`, purpose: 'batch' }),
    () => JSON.stringify({ id: `batch_${r.hex(32)}`, object: 'batch', input_file_id: `file-${r.chars('alnum', 24)}`, status: 'completed' }),
    () => JSON.stringify({ id: `resp_${r.hex(48)}`, object: 'response', model: r.pick(MODELS), previous_response_id: null }),
    () =>
      JSON.stringify({
        assistant_id: `asst_${r.chars('alnum', 24)}`,
        thread_id: `thread_${r.chars('alnum', 24)}`,
        run_id: `run_${r.chars('alnum', 24)}`,
        vector_store_id: `vs_${r.chars('alnum', 24)}`,
      }),
    () =>
      JSON.stringify({
        tool_calls: [{ id: `call_${r.chars('alnum', 24)}`, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      }),
    () => JSON.stringify({ type: 'tool_use', id: `toolu_01${r.chars('alnum', 22)}`, name: 'search', input: { query: 'token limits' } }),
    () => JSON.stringify({ id: `msgbatch_01${r.chars('alnum', 22)}`, type: 'message_batch', processing_status: 'ended' }),
    () => JSON.stringify({ type: 'thinking', thinking: r.pick(PROSE), signature: r.chars('base64', 300) + '==' }),
    () => JSON.stringify({ type: 'reasoning', id: `rs_${r.hex(48)}`, encrypted_content: `gAAAAAB${r.chars('base64url', 400)}==` }),
    () =>
      JSON.stringify({
        responseId: r.chars('base64url', 22),
        modelVersion: 'gemini-1.5-pro-002',
        usageMetadata: { promptTokenCount: r.int(1, 900), candidatesTokenCount: r.int(1, 900) },
      }),
    () =>
      JSON.stringify({
        id: r.chars('lowernum', 26),
        model: 'black-forest-labs/flux-schnell',
        status: 'succeeded',
        urls: { get: `https://api.replicate.com/v1/predictions/${r.chars('lowernum', 26)}` },
      }),
    () => JSON.stringify({ x_groq: { id: `req_01${r.chars('lowernum', 26)}` }, model: 'llama-3.3-70b-versatile' }),
    () => JSON.stringify({ id: `${r.chars('alnum', 16)}-${r.chars('alnum', 6)}`, model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', prompt: [] }),
    () => `x-ms-request-id: ${r.uuid()} apim-request-id: ${r.uuid()}`,
    () => JSON.stringify({ _id: r.hex(24), sha: r.hex(40), lastModified: r.timestamp(), siblings: [{ rfilename: 'model.safetensors' }] }),
    () =>
      JSON.stringify({
        generation_id: r.uuid(),
        finish_reason: 'COMPLETE',
        meta: { billed_units: { input_tokens: r.int(1, 900), output_tokens: r.int(1, 900) } },
      }),
  ])();
}

export const LINE_GENERATORS: LineGenerator[] = [
  { kind: 'provider-ids', make: providerIds },
  { kind: 'chat-request', make: chatRequest },
  { kind: 'chat-response', make: chatResponse },
  { kind: 'anthropic-message', make: anthropicMessage },
  { kind: 'stream-chunk', make: streamChunk },
  { kind: 'logprobs', make: logprobs },
  { kind: 'embedding', make: embedding },
  { kind: 'base64-payload', make: base64Payload },
  { kind: 'access-log', make: accessLog },
  { kind: 'syslog', make: syslog },
  { kind: 'kubernetes', make: kubernetes },
  { kind: 'stack-trace', make: stackTrace },
  { kind: 'digest', make: digests },
  { kind: 'tracing', make: tracing },
  { kind: 'placeholder', make: (r) => r.pick(PLACEHOLDERS) },
  { kind: 'prose', make: (r) => r.pick(PROSE) },
  { kind: 'benign-config', make: benignConfig },
  { kind: 'service', make: services },
];

/** `count` clean lines, the same ones for the same seed. */
export function* cleanLogLines(count: number, seed = 0x5eed): Generator<{ kind: string; line: string }> {
  const r = new CorpusRandom(seed);
  for (let i = 0; i < count; i++) {
    const gen = LINE_GENERATORS[i % LINE_GENERATORS.length]!;
    yield { kind: gen.kind, line: gen.make(r) };
  }
}
