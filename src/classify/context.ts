/**
 * Table context: what a column holds given its siblings and its table's name. One row per chat message keeps
 * the text in `content` beside a `role` column; one row per tool call keeps JSON `arguments` beside a
 * `tool_name`. Neither value looks like a chat or a tool call on its own, so the table has to say it.
 */
import { normalizeColumnName } from './names.js';
import { isJsonDocument, isMessageRole, NON_TEXT, toSampledValue, vectorLength, type SampledValue } from './shapes.js';
import type { Category } from './types.js';

/** Evidence from the table around a column, in the same terms as name, type and value evidence. */
export interface ContextEvidence {
  category: Category;
  weight: number;
  detail: string;
}

export interface SampledColumn {
  name: string;
  type: string;
  values: readonly unknown[];
}

const ends = (words: string) => new RegExp(`(?:^|_)(?:${words})$`);
const ROLE_COLUMN = ends('role|author_role|message_role|sender_role|speaker_role');
const CONTENT_COLUMN = ends('content|contents|text|message|message_text|message_content|content_text|body|msg|parts');
const TOOL_NAME_COLUMN = ends('tool_name|function_name|tool|function');
const ARGUMENTS_COLUMN = ends('arguments|args|input|inputs|parameters|params|tool_input|tool_args|tool_arguments');
const RESULT_COLUMN = ends('result|results|output|tool_result|tool_output|return_value|response|content');
const MODEL_COLUMN = ends('model|model_name|model_id|request_model|response_model');
const REQUEST_TEXT_COLUMN = ends('input|inputs|input_text|query|text');
/** A users table has a `role` of `user` too; a chat has the other side of the conversation somewhere. */
const MODEL_SIDE_ROLES = /^(?:assistant|system|developer|model|tool|function|ai)$/i;
const CHAT_TABLE = /(?:^|_)(?:messages?|chats?|conversations?|turns|dialog(?:ue)?s?|transcripts?|chat_history)(?:_|$)/;
const TOOL_TABLE = /(?:^|_)(?:tool|function)_?(?:calls?|invocations?|uses?|runs?|results?|executions?)(?:_|$)/;

/** The column's sampled values hold mostly (80 %) values that pass `test`, and at least one. */
function mostly(values: readonly SampledValue[], test: (v: SampledValue) => boolean): boolean {
  const hits = values.filter(test).length;
  return hits > 0 && hits / values.length >= 0.8;
}

/**
 * Context evidence per column name for one table. Values are read here and dropped, as in classifyColumn.
 * Weights: a sibling whose values confirm the layout (roles in `role`, JSON in `arguments`) 0.85; a table
 * name alone 0.5, as a column name weighs.
 */
export function tableContext(table: { name: string }, columns: readonly SampledColumn[]): Map<string, ContextEvidence[]> {
  const out = new Map<string, ContextEvidence[]>();
  const add = (column: string, e: ContextEvidence) => out.set(column, [...(out.get(column) ?? []), e]);
  const tableName = normalizeColumnName(table.name);
  const cols = columns.map((c) => ({
    ...c,
    norm: normalizeColumnName(c.name),
    text: !NON_TEXT.test(c.type.toLowerCase()),
    sampled: c.values.map(toSampledValue).filter((v): v is SampledValue => v !== undefined),
  }));
  const textColumns = cols.filter((c) => c.text);

  // Row per message: a role column whose values are chat roles makes the text beside it a chat.
  const roles = textColumns.find(
    (c) => ROLE_COLUMN.test(c.norm) && mostly(c.sampled, isMessageRole) && c.sampled.some((v) => MODEL_SIDE_ROLES.test(v.text.trim())),
  );
  const chatTable = CHAT_TABLE.test(tableName);
  for (const c of textColumns) {
    if (c === roles || !CONTENT_COLUMN.test(c.norm)) continue;
    if (roles)
      add(c.name, {
        category: 'chat-transcript',
        weight: 0.85,
        detail: `sibling column ${roles.name} holds message roles (system, user, assistant), one row per message`,
      });
    if (chatTable) add(c.name, { category: 'chat-transcript', weight: 0.5, detail: `table name ${table.name} suggests chat messages` });
  }

  // Row per tool call: a tool-name column beside JSON arguments; the result column is part of the call.
  const toolName = textColumns.find((c) => TOOL_NAME_COLUMN.test(c.norm) && !mostly(c.sampled, isJsonDocument));
  const toolTable = TOOL_TABLE.test(tableName);
  const args = textColumns.find((c) => c !== toolName && ARGUMENTS_COLUMN.test(c.norm) && mostly(c.sampled, isJsonDocument));
  if (args && (toolName || toolTable)) {
    const why = toolName ? `sibling column ${toolName.name} names the tool` : `table name ${table.name} suggests tool calls`;
    add(args.name, { category: 'tool-call', weight: toolName ? 0.85 : 0.5, detail: `${why}; the values are JSON arguments` });
    for (const c of textColumns) {
      if (c !== args && c !== toolName && RESULT_COLUMN.test(c.norm))
        add(c.name, { category: 'tool-call', weight: 0.7, detail: `the result of the tool call whose arguments are in ${args.name}` });
    }
  }

  // Request logs: text sent to a model (`input`, `query`) beside a model or an embedding column is a prompt.
  const model = cols.find((c) => MODEL_COLUMN.test(c.norm));
  const embedding = cols.find((c) => c.sampled.length > 0 && mostly(c.sampled, (v) => vectorLength(v) !== undefined));
  const beside = embedding ?? model;
  if (beside && !args) {
    for (const c of textColumns) {
      if (c !== beside && REQUEST_TEXT_COLUMN.test(c.norm))
        add(c.name, {
          category: 'prompt',
          weight: 0.5,
          detail: `text sent to a model: sibling column ${beside.name} holds ${beside === embedding ? 'its embedding' : 'the model name'}`,
        });
    }
  }
  return out;
}
