/**
 * Test helper (not shipped): the common ways teams lay out AI logs, each a small table with the columns its
 * tools really write, on any engine Warden reads: one row per chat message, one row per request with JSON
 * bodies, prompt/completion text, tool calls, embeddings, and OpenTelemetry GenAI spans with the attributes
 * as columns or as one JSON attributes map. Keys come from sample templates, never real ones.
 */
import { expandSample } from '../detect/index.js';
import type { Database, DbEngine } from '../db/index.js';
import type { Category } from './types.js';

type ColumnKind = 'id' | 'time' | 'text' | 'json' | 'int' | 'vector';
const TYPES: Record<DbEngine, Record<ColumnKind, string>> = {
  postgres: { id: 'bigint', time: 'timestamptz', text: 'text', json: 'jsonb', int: 'integer', vector: 'real[]' },
  mysql: { id: 'BIGINT', time: 'DATETIME(3)', text: 'TEXT', json: 'JSON', int: 'INT', vector: 'JSON' },
  // ClickHouse 18.16 has neither JSON nor Map: exporters of that age write JSON text into a String.
  clickhouse: { id: 'UInt64', time: 'DateTime', text: 'String', json: 'String', int: 'UInt32', vector: 'Array(Float32)' },
  sqlite: { id: 'INTEGER', time: 'TEXT', text: 'TEXT', json: 'TEXT', int: 'INTEGER', vector: 'TEXT' },
};

interface LayoutColumn {
  name: string;
  kind: ColumnKind;
  value: (i: number) => unknown;
}

export interface AiLayout {
  table: string;
  what: string;
  columns: LayoutColumn[];
  /** Categories each listed column must hold, in no particular order. */
  expect: Record<string, Category[]>;
  /** Categories each listed column must not hold. */
  never?: Record<string, Category[]>;
}

const ROLES = ['system', 'user', 'assistant', 'user', 'assistant'];
const SENTENCES = [
  'You are a helpful assistant for the payments engineering team.',
  'How do I rotate the database credentials without downtime for our payment service?',
  'Start with a second credential, roll the clients over, then revoke the first one.',
  'Can you summarise the incident notes from last night and list the follow-up actions?',
  'Here is the summary: the queue backed up after the deploy and two workers ran out of memory.',
];
const MODELS = ['gpt-4o-mini', 'claude-3-5-sonnet-20241022', 'gemini-1.5-pro', 'deepseek-chat'];
const TOOLS = ['lookup_ticket', 'search_docs', 'get_weather', 'run_sql'];
const openAiKey = (i: number) => expandSample('sk-proj-{alnum_-:58}T3BlbkFJ{alnum_-:58}', i + 1);
const sentence = (i: number) => SENTENCES[i % SENTENCES.length]!;
/** Every fourth user message pastes a key, as users do. */
const userText = (i: number) => (i % 4 === 1 ? `${sentence(i)} My key is ${openAiKey(i)} if you need it.` : sentence(i));
const hex = (n: number, width: number) => (n >>> 0).toString(16).padStart(width, '0').slice(-width);
const at = (i: number) => new Date(Date.UTC(2025, 0, 1) + i * 60_000);
const messages = (i: number) => [
  { role: 'system', content: SENTENCES[0] },
  { role: 'user', content: userText(i) },
];
const answer = (i: number) => [{ role: 'assistant', content: `${SENTENCES[2]} (request ${i})` }];
const toolArguments = (i: number) => ({ ticket: 1000 + i, query: 'refund status', limit: 5 });

export const AI_LAYOUTS: AiLayout[] = [
  {
    table: 'chat_messages',
    what: 'one row per message (role, content, session_id)',
    columns: [
      { name: 'id', kind: 'id', value: (i) => i },
      { name: 'session_id', kind: 'text', value: (i) => `sess_${hex(Math.floor(i / 5) * 2654435761, 12)}` },
      { name: 'role', kind: 'text', value: (i) => ROLES[i % ROLES.length] },
      { name: 'content', kind: 'text', value: (i) => (ROLES[i % ROLES.length] === 'user' ? userText(i) : sentence(i)) },
      { name: 'created_at', kind: 'time', value: at },
    ],
    expect: { content: ['chat-transcript', 'credential'], session_id: ['request-metadata'] },
    never: { content: ['free-text'], role: ['credential', 'chat-transcript'] },
  },
  {
    table: 'llm_requests',
    what: 'one row per request with the JSON request and response bodies',
    columns: [
      { name: 'id', kind: 'id', value: (i) => i },
      { name: 'created_at', kind: 'time', value: at },
      { name: 'model', kind: 'text', value: (i) => MODELS[i % MODELS.length] },
      { name: 'request_body', kind: 'json', value: (i) => ({ model: MODELS[i % MODELS.length], temperature: 0.2, messages: messages(i) }) },
      { name: 'response_body', kind: 'json', value: (i) => ({ id: `chatcmpl-${hex(i, 8)}`, object: 'chat.completion', choices: [{ index: 0, message: answer(i)[0], finish_reason: 'stop' }] }) },
      { name: 'status_code', kind: 'int', value: () => 200 },
    ],
    expect: { request_body: ['chat-transcript', 'credential'], response_body: ['completion'], model: ['request-metadata'] },
  },
  {
    table: 'completions',
    what: 'one row per request with the prompt and completion as text',
    columns: [
      { name: 'id', kind: 'id', value: (i) => i },
      { name: 'ts', kind: 'time', value: at },
      { name: 'model', kind: 'text', value: (i) => MODELS[i % MODELS.length] },
      { name: 'prompt', kind: 'text', value: userText },
      { name: 'completion', kind: 'text', value: (i) => `${SENTENCES[2]} (request ${i})` },
      { name: 'prompt_tokens', kind: 'int', value: (i) => 20 + i },
    ],
    expect: { prompt: ['prompt', 'credential'], completion: ['completion'], prompt_tokens: ['request-metadata'] },
    never: { prompt_tokens: ['prompt'] },
  },
  {
    table: 'tool_calls',
    what: 'one row per tool call (tool_name, JSON arguments, result)',
    columns: [
      { name: 'id', kind: 'id', value: (i) => i },
      { name: 'created_at', kind: 'time', value: at },
      { name: 'call_id', kind: 'text', value: (i) => `call_${hex(i * 40503, 8)}` },
      { name: 'tool_name', kind: 'text', value: (i) => TOOLS[i % TOOLS.length] },
      { name: 'arguments', kind: 'json', value: toolArguments },
      { name: 'result', kind: 'text', value: (i) => `Ticket ${1000 + i} is open; the refund was approved and is waiting for the bank.` },
    ],
    expect: { arguments: ['tool-call'], result: ['tool-call'] },
    never: { tool_name: ['tool-call'] },
  },
  {
    table: 'embedding_requests',
    what: 'one row per embedding request (input text, vector)',
    columns: [
      { name: 'id', kind: 'id', value: (i) => i },
      { name: 'created_at', kind: 'time', value: at },
      { name: 'model', kind: 'text', value: () => 'text-embedding-3-small' },
      { name: 'input', kind: 'text', value: userText },
      { name: 'embedding', kind: 'vector', value: (i) => Array.from({ length: 32 }, (_, k) => Math.round(Math.sin(i + k) * 1e4) / 1e4) },
    ],
    expect: { input: ['prompt', 'credential'], embedding: ['embedding'] },
  },
  {
    table: 'genai_spans',
    what: 'OpenTelemetry GenAI attributes as columns (gen_ai.prompt, gen_ai.completion, indexed gen_ai.prompt.0.*)',
    columns: [
      { name: 'trace_id', kind: 'text', value: (i) => hex(i * 2654435761, 16) + hex(i, 16) },
      { name: 'span_id', kind: 'text', value: (i) => hex(i * 40503, 16) },
      { name: 'start_time', kind: 'time', value: at },
      { name: 'gen_ai.system', kind: 'text', value: () => 'openai' },
      { name: 'gen_ai.request.model', kind: 'text', value: (i) => MODELS[i % MODELS.length] },
      { name: 'gen_ai.prompt', kind: 'text', value: (i) => JSON.stringify(messages(i)) },
      { name: 'gen_ai.completion', kind: 'text', value: (i) => JSON.stringify(answer(i)) },
      { name: 'gen_ai.prompt.0.role', kind: 'text', value: (i) => (i % 3 === 0 ? 'system' : 'user') },
      { name: 'gen_ai.prompt.0.content', kind: 'text', value: userText },
      { name: 'gen_ai.usage.input_tokens', kind: 'int', value: (i) => 20 + i },
    ],
    expect: {
      'gen_ai.prompt': ['prompt', 'chat-transcript', 'credential'],
      'gen_ai.completion': ['completion'],
      'gen_ai.prompt.0.content': ['chat-transcript', 'credential'],
      'gen_ai.request.model': ['request-metadata'],
      'gen_ai.usage.input_tokens': ['request-metadata'],
    },
  },
  {
    table: 'otel_traces',
    what: 'OpenTelemetry spans with the GenAI attributes in one JSON map (chat spans and execute_tool spans)',
    columns: [
      { name: 'Timestamp', kind: 'time', value: at },
      { name: 'TraceId', kind: 'text', value: (i) => hex(i * 2654435761, 16) + hex(i, 16) },
      { name: 'SpanName', kind: 'text', value: (i) => (i % 5 === 0 ? `execute_tool ${TOOLS[i % TOOLS.length]}` : `chat ${MODELS[i % MODELS.length]}`) },
      {
        name: 'SpanAttributes',
        kind: 'json',
        value: (i) =>
          i % 5 === 0
            ? { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': TOOLS[i % TOOLS.length], 'gen_ai.tool.call.arguments': JSON.stringify(toolArguments(i)) }
            : i % 2 === 0
              ? { 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': MODELS[i % MODELS.length], 'gen_ai.prompt': JSON.stringify(messages(i)), 'gen_ai.completion': JSON.stringify(answer(i)), 'gen_ai.usage.input_tokens': 20 + i }
              : { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': MODELS[i % MODELS.length], 'gen_ai.input.messages': JSON.stringify(messages(i)), 'gen_ai.output.messages': JSON.stringify(answer(i)) },
      },
    ],
    expect: { SpanAttributes: ['prompt', 'completion', 'chat-transcript', 'tool-call', 'credential'] },
  },
];

const chDateTime = (d: Date) => d.toISOString().slice(0, 19).replace('T', ' ');

/** Creates the layout's table in `schema` and inserts `rows` rows. */
export async function createAiLayout(db: Database, schema: string, layout: AiLayout, rows: number): Promise<void> {
  const table = { schema, name: layout.table };
  const cols = layout.columns.map((c) => `${db.quoteIdent(c.name)} ${TYPES[db.engine][c.kind]}`);
  await db.execute(`CREATE TABLE ${db.qualified(table)} (${cols.join(', ')})${db.engine === 'clickhouse' ? ` ENGINE = MergeTree ORDER BY ${db.quoteIdent(layout.columns[0]!.name)}` : ''}`);
  const data = Array.from({ length: rows }, (_, i) => layout.columns.map((c) => c.value(i + 1)));
  if (db.engine === 'clickhouse') {
    const body = data.map((r) => JSON.stringify(Object.fromEntries(layout.columns.map((c, k) => [c.name, c.kind === 'time' ? chDateTime(r[k] as Date) : c.kind === 'json' ? JSON.stringify(r[k]) : r[k]])))).join('\n');
    await db.execute(`INSERT INTO ${db.qualified(table)} FORMAT JSONEachRow\n${body}`);
    return;
  }
  const bind = (c: LayoutColumn, v: unknown) => {
    if (c.kind === 'vector') return db.engine === 'postgres' ? `{${(v as number[]).join(',')}}` : JSON.stringify(v);
    if (c.kind === 'json') return JSON.stringify(v);
    if (v instanceof Date) return db.engine === 'sqlite' ? v.toISOString() : v;
    return v as string | number;
  };
  const placeholders = `(${layout.columns.map((c) => (db.engine === 'postgres' && c.kind === 'vector' ? '?::real[]' : '?')).join(', ')})`;
  for (let i = 0; i < data.length; i += 100) {
    const part = data.slice(i, i + 100);
    await db.execute(`INSERT INTO ${db.qualified(table)} (${layout.columns.map((c) => db.quoteIdent(c.name)).join(', ')}) VALUES ${part.map(() => placeholders).join(', ')}`, part.flatMap((r) => r.map((v, k) => bind(layout.columns[k]!, v))));
  }
}
