/**
 * The authorization server's answer for a request another proxy reports: the gateway's own decision
 * (policy.ts), and what the proxy is to set on the upstream request and remove from it. The proxy, not
 * Warden, forwards the request, so what the gateway would have repaired on the way (a client's copy of the
 * upstream's own credential) is refused here instead.
 */
import type { KeyStore } from '../../keys/index.js';
import { UNSAFE_FIELD_VALUE } from '../http-syntax.js';
import { decide, identityFields, refuse, upgradeRefusal, type Decision, type PolicyRequest, type PolicyState, type Refusal } from '../policy.js';
import { dropParams } from '../proxy.js';

/** The original request as the proxy in front reports it. */
export interface OriginalRequest extends PolicyRequest {
  /** The original request's Upgrade field, when the proxy passed it on. */
  upgrade: string | undefined;
  /** Names (lower case) of the original request's header fields the proxy passed on. */
  fieldNames: ReadonlySet<string>;
}

export interface AuthzAnswer {
  refusal: Refusal | null;
  /** Null when the report itself was refused, or no route was found. */
  decision: Decision | null;
  /** For the proxy to set on the upstream request: the route's identity headers and assertion. */
  set: Array<[string, string]>;
  /** The route's identity headers this answer does not set (no identity: a public endpoint). */
  unset: string[];
  /**
   * For the proxy to remove from the upstream request (Envoy does; nginx, Caddy and Traefik are told to in
   * their config): the client's credential, and every identity header of the route this answer does not set,
   * so a client's own copy never reaches the upstream.
   */
  remove: string[];
}

/** A report of the original request that cannot be judged: refused as the gateway refuses an ambiguous request. */
export function badReport(reason: string, message: string): Refusal {
  return { ...refuse(400, 'bad_request', reason), message };
}

function refused(refusal: Refusal, decision: Decision | null): AuthzAnswer {
  return { refusal, decision, set: [], unset: [], remove: [] };
}

function answer(state: PolicyState, original: OriginalRequest, d: Decision | Refusal): AuthzAnswer {
  if (!('target' in d)) return refused(d, null);
  if (d.refusal) return refused(d.refusal, d);
  const route = d.route;
  // The gateway drops these on the way upstream; a proxy asking Warden forwards whatever it was sent.
  if (route.profile.credentialHeaders.some((h) => original.fieldNames.has(h)) || dropParams(original.query, route.profile.credentialParams) !== original.query)
    return refused({ ...refuse(400, 'bad_request', 'upstream_credential'), message: "the request carries the upstream's own credential" }, d);
  if (original.upgrade !== undefined) {
    const refusal = upgradeRefusal(original.upgrade, d.endpoint);
    if (refusal) return refused(refusal, d);
  }
  const set = identityFields(state, d);
  // An identity value no header can carry (a line break in a JWT subject) must not split the proxy's request: fail closed.
  if (set.some(([, value]) => UNSAFE_FIELD_VALUE.test(value)))
    return refused({ ...refuse(500, 'internal_error', 'identity_not_a_header'), message: 'the identity cannot be passed on in a header' }, d);
  const setNames = new Set(set.map(([h]) => h));
  const identityNames = [...route.identityHeaders.map(([h]) => h), ...(route.assertion && state.assertion ? [state.assertion.header] : [])];
  const unset = identityNames.filter((h) => !setNames.has(h));
  return { refusal: null, decision: d, set, unset, remove: ['authorization', 'x-api-key', ...unset] };
}

/** The gateway's decision on a reported request, or on a refusal of the report; synchronous when the key cache answers. */
export function authorize(state: PolicyState, keys: KeyStore, original: OriginalRequest | Refusal): AuthzAnswer | Promise<AuthzAnswer> {
  if ('status' in original) return refused(original, null);
  const decided = decide(state, keys, original);
  return decided instanceof Promise ? decided.then((d) => answer(state, original, d)) : answer(state, original, decided);
}
