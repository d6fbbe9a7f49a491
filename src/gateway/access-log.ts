/**
 * The access log: one NDJSON line per request with who (key id, token subject or certificate name,
 * never a credential), where, what and how it went. Paths are logged with credential parameters
 * masked by name and the rest scrubbed by the detection engine, because ClickHouse clients put
 * `password=` in the URL and any client may put a key in a query.
 */
import type { Writable } from 'node:stream';
import { createScrubber, isSensitiveFieldName, type Scrubber } from '../scrub/index.js';
import type { Identity } from './auth/identity.js';

export interface AccessRecord {
  time: string;
  identity: { kind: Identity['kind']; id: string; owner?: string } | null;
  route: string | null;
  endpoint: string | null;
  method: string;
  path: string;
  status: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  latencyMs: number;
  client: string;
  /** Why the gateway refused or failed the request, when it did. */
  reason?: string;
}

const MASK = '[REDACTED]';
const MAX_LOGGED_PATH = 4096;

/** Lines are gathered and written once per turn of the event loop, or sooner past this size. */
const FLUSH_BYTES = 64 * 1024;
/** Query-less paths repeat (`/v1/models`, `/v1/chat/completions`): their scrubbed form is remembered. */
const PATH_CACHE_SIZE = 1024;

export class AccessLog {
  private readonly scrubber: Scrubber;
  private readonly scrubbedPaths = new Map<string, string>();
  private pending = '';
  private flushScheduled = false;
  private closed = false;

  constructor(
    private readonly out: Writable | null,
    scrubber?: Scrubber,
  ) {
    this.scrubber = scrubber ?? createScrubber({ format: 'text' });
  }

  get enabled(): boolean {
    return this.out !== null;
  }

  /** The path and query as they may be logged. */
  safePath(target: string): string {
    if (target.length > MAX_LOGGED_PATH) return this.scrub(`${target.slice(0, MAX_LOGGED_PATH)}…`);
    if (target.includes('?')) return this.scrub(target);
    let safe = this.scrubbedPaths.get(target);
    if (safe === undefined) {
      if (this.scrubbedPaths.size >= PATH_CACHE_SIZE) this.scrubbedPaths.clear();
      this.scrubbedPaths.set(target, (safe = this.scrub(target)));
    }
    return safe;
  }

  private scrub(cut: string): string {
    const q = cut.indexOf('?');
    let text = cut;
    if (q >= 0) {
      const params = cut
        .slice(q + 1)
        .split('&')
        .map((pair) => {
          const eq = pair.indexOf('=');
          if (eq < 0) return pair;
          let name = pair.slice(0, eq);
          try {
            name = decodeURIComponent(name.replace(/\+/g, ' '));
          } catch {
            // undecodable name: judged as sent
          }
          return isSensitiveFieldName(name) ? `${pair.slice(0, eq)}=${MASK}` : pair;
        });
      text = `${cut.slice(0, q)}?${params.join('&')}`;
    }
    return this.scrubber.scrubLines(text);
  }

  write(record: AccessRecord): void {
    if (!this.out || this.closed) return;
    this.pending += `${JSON.stringify(record)}\n`;
    if (this.pending.length >= FLUSH_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (!this.pending || !this.out) return;
    this.out.write(this.pending);
    this.pending = '';
  }

  /** Writes what is gathered and takes no more lines: the sink may be ended next. */
  close(): void {
    this.flush();
    this.closed = true;
  }
}

export function identityForLog(identity: Identity | null): AccessRecord['identity'] {
  if (!identity) return null;
  return { kind: identity.kind, id: identity.keyId ?? identity.subject, ...(identity.owner ? { owner: identity.owner } : {}) };
}
