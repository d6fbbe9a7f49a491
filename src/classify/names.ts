import type { Category } from './types.js';

/** `userEmail`, `user-email` and `USER_EMAIL` all become `user_email`. */
export function normalizeColumnName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
}

interface NameRule {
  category: Category;
  /** Tested against the normalised name (`_`-separated lowercase words). */
  pattern: RegExp;
  what: string;
}

const w = (words: string) => new RegExp(`(?:^|_)(?:${words})(?:_|$)`);

/**
 * Name signals, most specific first. Count-like names (`prompt_tokens`, `token_count`) are request
 * metadata and are tested before the text categories so `prompt_tokens` never reads as a prompt.
 */
const NAME_RULES: NameRule[] = [
  {
    category: 'request-metadata',
    pattern:
      /(?:^|_)(?:prompt|completion|input|output|total|cached|reasoning|max)_tokens?(?:_|$)|(?:^|_)tokens?_(?:count|used|usage|in|out)(?:_|$)|^n_?tokens$/,
    what: 'a token count',
  },
  {
    category: 'password-hash',
    pattern: /(?:^|_)(?:password|passwd|pass|pwd|pw)_(?:hash|hashed|digest)(?:_|$)|(?:^|_)(?:hashed|encrypted|crypted)_(?:password|passwd|pwd)(?:_|$)/,
    what: 'a password hash',
  },
  {
    category: 'credential',
    pattern: w(
      'api_?key|apikey|secret|secret_key|client_secret|password|passwd|pwd|credentials?|authorization|auth_header|bearer|private_key|access_key|(?:access|refresh|auth|bearer|session|id|api|oauth)_token|token',
    ),
    what: 'a credential',
  },
  { category: 'embedding', pattern: w('embeddings?|vectors?|emb|vec|dense_vector'), what: 'a vector' },
  { category: 'tool-call', pattern: w('tool_calls?|tool_use|function_calls?|tool_input|tool_args|tool_arguments|arguments'), what: 'a tool call' },
  {
    category: 'chat-transcript',
    pattern: w('messages|conversation|conversations|chat|chat_history|history|transcript|dialog|dialogue|turns|contents'),
    what: 'a chat transcript',
  },
  {
    category: 'prompt',
    pattern: w('prompt|prompts|system_prompt|user_prompt|instructions?|query|question|user_message|user_input|input_text|request_body'),
    what: 'a prompt',
  },
  {
    category: 'completion',
    pattern: w('completion|completions|response|response_body|answer|output|output_text|generated_text|generation|choices|reply|assistant_message'),
    what: 'a completion',
  },
  { category: 'pii.email', pattern: w('e_?mail|email_address|mail'), what: 'an email address' },
  { category: 'pii.phone', pattern: w('phone|phone_number|mobile|msisdn|tel|telephone|cell'), what: 'a phone number' },
  {
    category: 'pii.ip-address',
    pattern: w('ip|ip_address|ip_addr|client_ip|remote_addr|remote_ip|source_ip|x_forwarded_for|ipv4|ipv6'),
    what: 'an IP address',
  },
  {
    category: 'pii.person-name',
    pattern: /(?:^|_)(?:full|first|last|given|family|middle|display|customer|contact|person|author|sur)_?name(?:_|$)|^name$|^surname$/,
    what: "a person's name",
  },
  { category: 'payment-card', pattern: w('card_?number|credit_?card|cc_?number|pan|card_no|ccn'), what: 'a payment card number' },
  {
    category: 'request-metadata',
    pattern: w(
      'id|uuid|request_id|trace_id|span_id|span_name|session_id|model|model_name|provider|latency|latency_ms|duration|duration_ms|elapsed_ms|status|status_code|http_status|finish_reason|stop_reason|temperature|top_p|cost|usage|user_agent|endpoint|route|method|region|created_at|updated_at|timestamp|ts|time|date|service|source|level|tenant|tenant_id|org_id|user_id|api_version',
    ),
    what: 'request bookkeeping',
  },
];

export interface NameHit {
  category: Category;
  what: string;
}

/**
 * Every category the name suggests; a count-like name suppresses the text categories its words contain,
 * and a password-hash name the credential its `password` word suggests.
 */
export function categoriesFromName(name: string): NameHit[] {
  const n = normalizeColumnName(name);
  const hits: NameHit[] = [];
  for (const rule of NAME_RULES) {
    if (!rule.pattern.test(n) || hits.some((h) => h.category === rule.category)) continue;
    hits.push({ category: rule.category, what: rule.what });
  }
  if (hits[0]?.category === 'request-metadata' && NAME_RULES[0]!.pattern.test(n)) return [hits[0]];
  if (hits[0]?.category === 'password-hash') return hits.filter((h) => h.category !== 'credential');
  return hits;
}
