// Test and benchmark helper (not shipped): AI-gateway log rows of several users, some carrying Warden keys
// and third-party keys generated from the detection rules' own sample templates.
import { expandSample, getDefaultDetector } from '../detect/index.js';

export interface SeededLogs {
  rows: Array<Record<string, unknown>>;
  /** Exactly what triage must find. */
  expected: { users: Map<string, number>; tenants: Map<string, number>; sessions: Map<string, number>; from: string; to: string };
}

/** Third-party keys used in the seed, by rule id: one line of text holding one key each. */
export const THIRD_PARTY_RULES = ['openai-project-key', 'anthropic-api-key', 'github-pat'] as const;

export function thirdPartyKeyText(ruleId: string, seed: number): string {
  const spec = getDefaultDetector().rules.find((r) => r.spec.id === ruleId)?.spec;
  if (!spec) throw new Error(`no rule ${ruleId}`);
  return expandSample(spec.samples.match[0]!, seed);
}

/**
 * `count` rows over `users` users (tenant = user mod 3, a session per user and day), one second apart
 * from 2025-01-06T00:00:00Z. Row i carries `wardenKeys[j]` when i = 7j + 3 and the third-party key seed
 * s when i = 11s + 5 (for s < thirdPartySeeds); the rest is chat.
 */
export function seedLogs(count: number, users: number, wardenKeys: readonly string[], thirdPartySeeds = 3): SeededLogs {
  const start = Date.UTC(2025, 0, 6);
  const rows: Array<Record<string, unknown>> = [];
  const expected = { users: new Map<string, number>(), tenants: new Map<string, number>(), sessions: new Map<string, number>(), from: '', to: '' };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (let i = 0; i < count; i++) {
    const u = i % users;
    const user = `user-${u}`;
    const tenant = `tenant-${u % 3}`;
    const at = start + i * 1000;
    const session = `sess-${u}-${new Date(at).toISOString().slice(0, 10)}`;
    let content = `question ${i}: how do I reset my router when the lights blink amber?`;
    const w = (i - 3) / 7;
    if (Number.isInteger(w) && w >= 0 && w < wardenKeys.length) content += ` my key is ${wardenKeys[w]}`;
    const s = (i - 5) / 11;
    if (Number.isInteger(s) && s >= 0 && s < thirdPartySeeds) content += ` config: ${THIRD_PARTY_RULES.map((r) => thirdPartyKeyText(r, 100 + s)).join(' ; ')}`;
    rows.push({
      timestamp: new Date(at).toISOString(),
      user_id: user,
      tenant_id: tenant,
      session_id: session,
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are a helpful support assistant.' },
        { role: 'user', content },
      ],
    });
    bump(expected.users, user);
    bump(expected.tenants, tenant);
    bump(expected.sessions, session);
  }
  expected.from = new Date(start).toISOString();
  expected.to = new Date(start + (count - 1) * 1000).toISOString();
  return { rows, expected };
}
