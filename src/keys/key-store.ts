import { openStore, type Store } from '../store/index.js';
import { DEFAULT_KEY_PREFIX, isValidPrefix } from './format.js';
import { KeyAdmin, KeyOptionsError } from './key-admin.js';
import { openKeyRecords } from './key-records.js';
import { CanaryLedger } from './canary.js';
import { LeakIntake } from './leak-intake.js';
import { loadKeySecrets, type KeySecrets } from './secret.js';
import type {
  ActionContext,
  AuditEntry,
  CanaryInfo,
  CreateCanaryOptions,
  CreateKeyOptions,
  KeyChanges,
  KeyInfo,
  LeakEvent,
  LeakOutcome,
  LeakPolicy,
  LeakReport,
  Verification,
  VerifyRequest,
} from './types.js';
import { KeyVerifier, type KeyVerifierOptions } from './verifier.js';

export { KeyNotFoundError, KeyOptionsError } from './key-admin.js';

export interface KeyStoreOptions extends Omit<KeyVerifierOptions, 'prefix' | 'secrets'> {
  /** A store, or where to open one (SQLite path, `:memory:`, `postgres://…`); default SQLite file. */
  store?: Store | string;
  /** Server secrets for hashing; default WARDEN_KEY_SECRET or the generated secret file. */
  secrets?: KeySecrets;
  /** Product prefix of the keys this store issues and accepts. */
  prefix?: string;
  /** Listen for changes made by other processes (default true). */
  notifications?: boolean;
  onLeak?: (event: LeakEvent) => void;
}

/**
 * Warden API keys: issue, verify, rotate, revoke and report leaks, over one store. A facade over
 * its three parts, which share the key records: `verifier` (the cached hot path), `admin` (changes
 * and the audit log) and `leaks` (leak reports); callers that need one part can hold just that.
 */
export class KeyStore {
  readonly prefix: string;
  readonly verifier: KeyVerifier;
  readonly admin: KeyAdmin;
  readonly leaks: LeakIntake;
  /** Canary keys: where each was planted, and every use. */
  readonly canaries: CanaryLedger;
  private closed = false;

  private constructor(
    readonly store: Store,
    private readonly ownsStore: boolean,
    parts: { prefix: string; verifier: KeyVerifier; admin: KeyAdmin; leaks: LeakIntake; canaries: CanaryLedger },
  ) {
    this.prefix = parts.prefix;
    this.canaries = parts.canaries;
    this.verifier = parts.verifier;
    this.admin = parts.admin;
    this.leaks = parts.leaks;
  }

  /** Opens (and migrates) the key tables in a store. */
  static async open(options: KeyStoreOptions = {}): Promise<KeyStore> {
    const ownsStore = !options.store || typeof options.store === 'string';
    const store = typeof options.store === 'object' ? options.store : openStore(options.store);
    try {
      const records = await openKeyRecords(store);
      const prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
      if (!isValidPrefix(prefix)) throw new KeyOptionsError(`invalid key prefix ${JSON.stringify(prefix)}`);
      const secrets = options.secrets ?? loadKeySecrets();
      const canaries = new CanaryLedger(store);
      const verifier = new KeyVerifier(records, { ...options, prefix, secrets, canaries });
      const admin = new KeyAdmin(records, verifier, prefix, secrets);
      const leaks = new LeakIntake(records, verifier, admin, options.onLeak, canaries);
      const keys = new KeyStore(store, ownsStore, { prefix, verifier, admin, leaks, canaries });
      if (options.notifications !== false) await verifier.listen();
      return keys;
    } catch (err) {
      if (ownsStore) await store.close();
      throw err;
    }
  }

  /** See `KeyVerifier.verifyCached`: the cache's answer with no I/O, or undefined. */
  verifyCached(token: string, request: VerifyRequest = {}): Verification | undefined {
    return this.verifier.verifyCached(token, request);
  }

  /** Answers whether `token` is a valid key for this request, and if not, why. Never throws. */
  verify(token: string, request: VerifyRequest = {}): Promise<Verification> {
    return this.verifier.verify(token, request);
  }

  /** See `KeyVerifier.verifyById`: `verify` for a holder who kept only the key's id. */
  verifyById(id: string, request: VerifyRequest = {}): Promise<Verification> {
    return this.verifier.verifyById(id, request);
  }

  /**
   * The key behind `token` without using it: no rate, quota or last-use change, so incident triage can
   * name a leaked key's owner and scopes and leave its traces as the attacker left them. Null when unknown.
   */
  async identify(token: string): Promise<KeyInfo | null> {
    const row = await this.verifier.lookup(token);
    return row ? this.admin.show(row.id) : null;
  }

  /** Writes last-used times in one transaction; a time only moves forward. */
  flushLastUsed(): Promise<void> {
    return this.verifier.flushLastUsed();
  }

  /** Issues a key. The returned `key` is the only time it exists outside its holder's hands. */
  create(opts: CreateKeyOptions, ctx: ActionContext = {}): Promise<{ key: string; info: KeyInfo }> {
    return this.admin.create(opts, ctx);
  }

  /** See `KeyAdmin.createCanary`: a key no client holds, planted to report any use; shown this once. */
  async createCanary(opts: CreateCanaryOptions, ctx: ActionContext = {}): Promise<{ key: string; info: CanaryInfo }> {
    const { key, id } = await this.admin.createCanary(opts, ctx);
    return { key, info: (await this.canaries.get(id))! };
  }

  /** Keys clients hold; canaries are listed by `canaries.list()`. */
  list(filter: { owner?: string } = {}): Promise<KeyInfo[]> {
    return this.admin.list(filter);
  }

  show(id: string): Promise<KeyInfo> {
    return this.admin.show(id);
  }

  update(id: string, changes: KeyChanges, ctx: ActionContext = {}): Promise<KeyInfo> {
    return this.admin.update(id, changes, ctx);
  }

  /** Stops a key now. Revoking is final; a key mid-rotation stops at once instead of at its window's end. */
  revoke(id: string, reason: string, ctx: ActionContext = {}): Promise<KeyInfo> {
    return this.admin.revoke(id, reason, ctx);
  }

  /** Suspends a key until `enable`; what the `disable` leak policy does. */
  disable(id: string, reason: string, ctx: ActionContext = {}): Promise<KeyInfo> {
    return this.admin.disable(id, reason, ctx);
  }

  enable(id: string, ctx: ActionContext = {}): Promise<KeyInfo> {
    return this.admin.enable(id, ctx);
  }

  /** See `KeyAdmin.rotate`: a successor now, the old key stopping after `overlapMs`. */
  rotate(id: string, options: { overlapMs?: number } = {}, ctx: ActionContext = {}): Promise<{ key: string; info: KeyInfo; previous: KeyInfo }> {
    return this.admin.rotate(id, options, ctx);
  }

  auditLog(filter: { keyId?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    return this.admin.auditLog(filter);
  }

  /** See `LeakIntake.reportLeaks`: each genuine key reported is handled once per reporter and URL. */
  reportLeaks(reports: readonly LeakReport[], reporter: string, ctx: ActionContext = {}, policy?: LeakPolicy): Promise<LeakOutcome[]> {
    return this.leaks.reportLeaks(reports, reporter, ctx, policy);
  }

  /** Flushes last-used times, returns unused quota, stops listening; closes the store if it opened it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.canaries.settled();
    await this.verifier.close();
    if (this.ownsStore) await this.store.close();
  }
}
