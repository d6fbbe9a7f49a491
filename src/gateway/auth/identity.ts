/** Who a request comes from, whichever credential proved it. Never holds the credential itself. */
export type CredentialKind = 'key' | 'jwt' | 'mtls';

export interface Identity {
  kind: CredentialKind;
  /** Key id, token subject, or certificate identity. */
  subject: string;
  scopes: readonly string[];
  keyId?: string;
  owner?: string;
  issuer?: string;
}
