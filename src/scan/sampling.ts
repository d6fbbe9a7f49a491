/**
 * Turns sampled values into evidence without keeping them: credentials are counted by rule id and
 * conversation content is recognised by shape. Nothing here returns or stores a value.
 */
import type { Detector } from '../detect/index.js';
import type { CredentialCount } from './types.js';

/** Counts the detector's matches in each text, by rule. The matches themselves are dropped at once. */
export function countCredentials(detector: Detector, texts: Iterable<string>): CredentialCount {
  const count: CredentialCount = { total: 0, byRule: {} };
  for (const text of texts) {
    for (const match of detector.scan(text)) {
      count.total += 1;
      count.byRule[match.ruleId] = (count.byRule[match.ruleId] ?? 0) + 1;
    }
  }
  return count;
}

/** Adds `b` into `a` (for totals across tables or keys). */
export function addCredentialCounts(a: CredentialCount, b: CredentialCount): CredentialCount {
  const byRule = { ...a.byRule };
  for (const [rule, n] of Object.entries(b.byRule)) byRule[rule] = (byRule[rule] ?? 0) + n;
  return { total: a.total + b.total, byRule };
}

const CONVERSATION_NAME = /(^|[^a-z])(chat|prompt|completion|conversation|messages?|transcript|llm)([^a-z]|$)/i;
// Chat logs serialise as role-tagged messages (OpenAI, Anthropic and most gateways) or prompt/completion pairs.
const CONVERSATION_VALUE = /"role"\s*:\s*"(user|assistant|system)"|"(prompt|completion|messages)"\s*:/;

/** True when a column, field or key name says it holds chat, prompt or completion content. */
export function isConversationName(name: string): boolean {
  return CONVERSATION_NAME.test(name.replace(/_/g, ' '));
}

/** True when a sampled value is shaped like chat, prompt or completion content. */
export function isConversationValue(value: string): boolean {
  return CONVERSATION_VALUE.test(value);
}
