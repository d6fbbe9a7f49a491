import { createHash } from 'node:crypto';
import { audit, type KeyAdmin } from './key-admin.js';
import type { KeyRecordStore } from './key-records.js';
import type { ActionContext, LeakEvent, LeakOutcome, LeakPolicy, LeakReport } from './types.js';
import type { KeyVerifier } from './verifier.js';
import type { CanaryLedger } from './canary.js';

/**
 * Reported tokens (GitHub secret scanning, other reporters, incident triage): each genuine key of
 * this store is a true positive; the first report of it from a given reporter and URL records the
 * leak and applies the key's leak policy through administration. Reporters retry, so a repeat
 * changes nothing.
 */
export class LeakIntake {
  constructor(
    private readonly records: KeyRecordStore,
    private readonly verifier: Pick<KeyVerifier, 'lookup'>,
    private readonly admin: Pick<KeyAdmin, 'revoke' | 'disable'>,
    private readonly onLeak: ((event: LeakEvent) => void) | undefined,
    private readonly canaries: Pick<CanaryLedger, 'trip'>,
  ) {}

  /** `policy`, when given, is what the operator forces instead of each key's own leak policy. */
  async reportLeaks(reports: readonly LeakReport[], reporter: string, ctx: ActionContext = {}, policy?: LeakPolicy): Promise<LeakOutcome[]> {
    const outcomes: LeakOutcome[] = [];
    for (const report of reports) {
      const tokenHash = createHash('sha256').update(report.token).digest('hex');
      const row = await this.verifier.lookup(report.token);
      if (!row) {
        outcomes.push({ tokenHash, label: 'false_positive', keyId: null, action: null });
        continue;
      }
      const outcome: LeakOutcome = { tokenHash, label: 'true_positive', keyId: row.id, action: null };
      outcomes.push(outcome);
      if (row.canary) {
        // A reported canary is a trip like any use, never a revocation: the report's URL is where it was seen.
        this.canaries.trip(row.id, { route: String(report.url ?? '').slice(0, 2000), via: `leak-report:${reporter}` }, Date.now());
        continue;
      }
      const action = policy ?? (row.leak_policy as LeakPolicy);
      const url = String(report.url ?? '').slice(0, 2000);
      const event = await this.records.transaction(async (tx) => {
        const fresh = await tx.recordLeak({ keyId: row.id, reporter, url, source: report.source ?? null, reportedAt: Date.now() });
        if (!fresh) return null;
        await audit(tx, { ...ctx, actor: ctx.actor ?? reporter }, 'leak-reported', row.id, { reporter, url, source: report.source ?? null, action });
        return { keyId: row.id, owner: row.owner, reporter, url, source: report.source ?? null, action } satisfies LeakEvent;
      });
      if (!event) continue;
      outcome.action = action;
      const reason = `leaked: reported by ${reporter} at ${url}`;
      if (action === 'revoke') await this.admin.revoke(row.id, reason, { ...ctx, actor: ctx.actor ?? reporter });
      else if (action === 'disable') await this.admin.disable(row.id, reason, { ...ctx, actor: ctx.actor ?? reporter });
      this.onLeak?.(event);
    }
    return outcomes;
  }
}
