/**
 * Test and benchmark helper (not shipped): an AI-gateway log table as teams really keep one (chat
 * messages, response bodies, headers with a bearer key, embeddings, tool calls, PII, bookkeeping),
 * created and seeded on any engine Warden reads. Keys come from sample templates, never real ones.
 */
import { expandSample } from '../detect/index.js';
import type { Database, DbEngine } from '../db/index.js';
import { luhnValid } from './shapes.js';

export interface AiChatRow {
  id: number;
  created_at: Date;
  tenant_id: string;
  request_id: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  latency_ms: number;
  messages: string;
  response: string;
  tool_calls: string;
  request_headers: string;
  user_email: string;
  client_ip: string;
  customer_name: string;
  card_number: string;
  embedding: number[];
  feedback: string;
}

export const EMBEDDING_DIMS = 32;
const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson'];
const MODELS = ['gpt-4o-mini', 'claude-3-5-sonnet-20241022', 'deepseek-chat', 'o3-mini'];
const QUESTIONS = [
  'How do I rotate the database credentials without downtime for our payment service?',
  'Summarise the attached meeting notes and list the action items for the next sprint please.',
  'Write a polite email declining the vendor proposal but keeping the door open for next year.',
  'Explain why my Kubernetes pod keeps restarting with exit code 137 after the last deploy.',
];

function luhnComplete(prefix: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(prefix + d)) return prefix + d;
  throw new Error('unreachable: one check digit always fits');
}

const hex = (n: number, width: number) => (n >>> 0).toString(16).padStart(width, '0').slice(-width);

export function aiChatRow(id: number, createdAt: Date, tenant = `tenant-${id % 3}`): AiChatRow {
  const question = QUESTIONS[id % QUESTIONS.length]!;
  const key = expandSample('sk-proj-{alnum_-:58}T3BlbkFJ{alnum_-:58}', id + 1);
  return {
    id,
    created_at: createdAt,
    tenant_id: tenant,
    request_id: `${hex(id * 2654435761, 8)}-${hex(id, 4)}-4${hex(id * 7, 3)}-a${hex(id * 13, 3)}-${hex(id * 40503, 8)}${hex(id, 4)}`,
    model: MODELS[id % MODELS.length]!,
    prompt_tokens: 20 + (id % 400),
    completion_tokens: 50 + (id % 900),
    latency_ms: 120 + ((id * 37) % 5000),
    messages: JSON.stringify([
      { role: 'system', content: 'You are a helpful assistant for an engineering team.' },
      { role: 'user', content: question },
    ]),
    response: JSON.stringify({ id: `chatcmpl-${hex(id, 8)}`, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `Here is what I suggest for request ${id}: start small and verify each step.` }, finish_reason: 'stop' }] }),
    tool_calls: JSON.stringify([{ id: `call_${hex(id, 8)}`, type: 'function', function: { name: 'lookup_ticket', arguments: JSON.stringify({ ticket: id }) } }]),
    request_headers: JSON.stringify({ 'content-type': 'application/json', authorization: `Bearer ${key}`, 'user-agent': 'openai-python/1.54.0' }),
    user_email: `${FIRST[id % 8]!.toLowerCase()}.${LAST[(id >> 3) % 8]!.toLowerCase()}${id}@example.com`,
    client_ip: `10.${(id >> 16) & 255}.${(id >> 8) & 255}.${id & 255}`,
    customer_name: `${FIRST[id % 8]} ${LAST[(id * 5) % 8]}`,
    card_number: luhnComplete(`4${String(100000000000000 + id * 7919).slice(-14)}`),
    embedding: Array.from({ length: EMBEDDING_DIMS }, (_, k) => Math.round(Math.sin(id + k) * 1e4) / 1e4),
    feedback: `The answer about ${question.split(' ').slice(2, 6).join(' ')} was helpful but a little long for me.`,
  };
}

const COLUMN_TYPES: Record<DbEngine, Record<keyof AiChatRow, string>> = {
  postgres: { id: 'bigint PRIMARY KEY', created_at: 'timestamptz NOT NULL', tenant_id: 'text', request_id: 'uuid', model: 'text', prompt_tokens: 'integer', completion_tokens: 'integer', latency_ms: 'integer', messages: 'jsonb', response: 'jsonb', tool_calls: 'jsonb', request_headers: 'text', user_email: 'text', client_ip: 'inet', customer_name: 'text', card_number: 'text', embedding: 'real[]', feedback: 'text' },
  mysql: { id: 'BIGINT PRIMARY KEY', created_at: 'DATETIME(3) NOT NULL', tenant_id: 'VARCHAR(64)', request_id: 'CHAR(36)', model: 'VARCHAR(64)', prompt_tokens: 'INT', completion_tokens: 'INT', latency_ms: 'INT', messages: 'JSON', response: 'JSON', tool_calls: 'JSON', request_headers: 'TEXT', user_email: 'VARCHAR(255)', client_ip: 'VARCHAR(45)', customer_name: 'VARCHAR(255)', card_number: 'VARCHAR(32)', embedding: 'JSON', feedback: 'TEXT' },
  clickhouse: { id: 'UInt64', created_at: 'DateTime', tenant_id: 'String', request_id: 'String', model: 'String', prompt_tokens: 'UInt32', completion_tokens: 'UInt32', latency_ms: 'UInt32', messages: 'String', response: 'String', tool_calls: 'String', request_headers: 'String', user_email: 'String', client_ip: 'String', customer_name: 'String', card_number: 'String', embedding: 'Array(Float32)', feedback: 'String' },
  sqlite: { id: 'INTEGER PRIMARY KEY', created_at: 'TEXT NOT NULL', tenant_id: 'TEXT', request_id: 'TEXT', model: 'TEXT', prompt_tokens: 'INTEGER', completion_tokens: 'INTEGER', latency_ms: 'INTEGER', messages: 'TEXT', response: 'TEXT', tool_calls: 'TEXT', request_headers: 'TEXT', user_email: 'TEXT', client_ip: 'TEXT', customer_name: 'TEXT', card_number: 'TEXT', embedding: 'TEXT', feedback: 'TEXT' },
};

export interface CreateAiChatTableOptions {
  /** ClickHouse: `PARTITION BY` expression (default `toYYYYMMDD(created_at)`; empty string for none). */
  partitionBy?: string;
}

export async function createAiChatTable(db: Database, table: { schema: string; name: string }, options: CreateAiChatTableOptions = {}): Promise<void> {
  const cols = Object.entries(COLUMN_TYPES[db.engine]).map(([name, type]) => `${db.quoteIdent(name)} ${type}`);
  let ddl = `CREATE TABLE ${db.qualified(table)} (${cols.join(', ')})`;
  if (db.engine === 'clickhouse') {
    const partition = options.partitionBy ?? 'toYYYYMMDD(created_at)';
    ddl += ` ENGINE = MergeTree ${partition ? `PARTITION BY ${partition}` : ''} ORDER BY id`;
  }
  await db.execute(ddl);
}

const chDateTime = (d: Date) => d.toISOString().slice(0, 19).replace('T', ' ');

export async function insertAiChatRows(db: Database, table: { schema: string; name: string }, rows: readonly AiChatRow[]): Promise<void> {
  if (rows.length === 0) return;
  if (db.engine === 'clickhouse') {
    const body = rows.map((r) => JSON.stringify({ ...r, created_at: chDateTime(r.created_at) })).join('\n');
    await db.execute(`INSERT INTO ${db.qualified(table)} FORMAT JSONEachRow\n${body}`);
    return;
  }
  const names = Object.keys(COLUMN_TYPES[db.engine]) as Array<keyof AiChatRow>;
  const chunk = db.engine === 'sqlite' ? 50 : 500;
  for (let i = 0; i < rows.length; i += chunk) {
    const part = rows.slice(i, i + chunk);
    const placeholders = part.map(() => `(${names.map((n) => (db.engine === 'postgres' && n === 'embedding' ? '?::real[]' : '?')).join(', ')})`).join(', ');
    const params = part.flatMap((r) =>
      names.map((n) => {
        const v = r[n];
        if (n === 'embedding') return db.engine === 'postgres' ? `{${(v as number[]).join(',')}}` : JSON.stringify(v);
        if (v instanceof Date) return db.engine === 'sqlite' ? v.toISOString() : v;
        return v as string | number;
      }),
    );
    await db.execute(`INSERT INTO ${db.qualified(table)} (${names.map((n) => db.quoteIdent(n)).join(', ')}) VALUES ${placeholders}`, params);
  }
}
