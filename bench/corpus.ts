import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { expandSample, seededRandom } from '../src/detect/samples.js';

/**
 * A realistic AI-gateway log corpus: NDJSON request/response records with headers, prompts,
 * completions, usage and errors, plus some plain-text service lines; `leakRate` of the lines (1% by
 * default) carry a credential in one of the ways real logs leak them.
 */
const MODELS = ['gpt-4o-mini', 'gpt-4.1', 'claude-3-5-sonnet', 'llama-3.1-70b', 'deepseek-chat', 'mistral-large'];
const ROUTES = ['/v1/chat/completions', '/v1/embeddings', '/v1/responses', '/v1/models', '/api/generate'];
const WORDS =
  'the a summary of ticket customer refund policy please write explain code function error stack trace deploy model latency vector database retrieval context window user assistant system translate french invoice'.split(
    ' ',
  );
const LEAKS = [
  'sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}',
  'sk-ant-api03-{alnum_-:93}AA',
  'ghp_{alnum:30}{crc32b62:6}',
  'AKIA{base32:16}',
  'xoxb-{digit:11}-{digit:12}-{alnum:24}',
  'hf_{alpha:34}',
  'gsk_{alnum:52}',
  'AIza{alnum_-:35}',
];

function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(rand() * 16)];
  return s;
}

function sentence(rand: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rand() * WORDS.length)]!);
  return out.join(' ');
}

export function corpusLine(rand: () => number, i: number, leakRate = 0.01): string {
  const ts = new Date(Date.UTC(2026, 10, 26) + i * 37).toISOString();
  const model = MODELS[i % MODELS.length]!;
  const route = ROUTES[i % ROUTES.length]!;
  const leak = rand() < leakRate ? expandSample(LEAKS[Math.floor(rand() * LEAKS.length)]!, i) : undefined;
  const kind = rand();
  if (kind < 0.1) {
    return `${ts} INFO upstream=${model} route=${route} status=200 latency_ms=${Math.floor(rand() * 2000)} trace_id=${hex(rand, 32)} span_id=${hex(rand, 16)}${leak ? ` api_key=${leak}` : ''}`;
  }
  const record: Record<string, unknown> = {
    ts,
    level: kind < 0.15 ? 'error' : 'info',
    request_id: `req_${hex(rand, 24)}`,
    trace_id: hex(rand, 32),
    route,
    model,
    status: kind < 0.15 ? 429 : 200,
    latency_ms: Math.floor(rand() * 3000),
    headers: {
      'content-type': 'application/json',
      'user-agent': 'openai-python/1.54.0',
      'x-request-id': `${hex(rand, 8)}-${hex(rand, 4)}-4${hex(rand, 3)}-a${hex(rand, 3)}-${hex(rand, 12)}`,
      ...(leak ? { authorization: `Bearer ${leak}` } : {}),
    },
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: sentence(rand, 20 + Math.floor(rand() * 60)) },
    ],
    // Real completions have paragraphs and quotes, which JSON escapes: the engine's escaped pass runs on them.
    completion: `${sentence(rand, 20 + Math.floor(rand() * 60))}\n\n"${sentence(rand, 5)}" ${sentence(rand, 10 + Math.floor(rand() * 60))}`,
    usage: { prompt_tokens: Math.floor(rand() * 4000), completion_tokens: Math.floor(rand() * 800), total_tokens: Math.floor(rand() * 4800) },
  };
  if (kind < 0.15) record.error = { type: 'rate_limit_exceeded', message: `Rate limit reached for ${model} in organization org-${hex(rand, 24)}` };
  return JSON.stringify(record);
}

/** Writes about `bytes` bytes of corpus to `path`; returns the line count. */
export async function writeCorpus(path: string, bytes: number, seed = 1, leakRate = 0.01): Promise<number> {
  const rand = seededRandom(seed);
  const out = createWriteStream(path);
  let written = 0;
  let lines = 0;
  while (written < bytes) {
    let chunk = '';
    for (let i = 0; i < 1000; i++) chunk += corpusLine(rand, lines++, leakRate) + '\n';
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return lines;
}
