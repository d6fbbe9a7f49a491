/** warden/gateway: an authenticating, authorizing reverse proxy for internal services. */
export { Gateway, GatewayStartError, GATEWAY_MODES, type GatewayMode, type GatewayOptions, type ReloadResult } from './gateway.js';
export { startGatewayWorkers, tuneGatewayProcess, type GatewayWorkers, type GatewayWorkersOptions } from './cluster.js';
export {
  loadGatewayConfig,
  parseGatewayConfig,
  GatewayConfigError,
  GATEWAY_CONFIG_SCHEMA,
  type GatewayConfig,
  type RouteConfig,
  type AllowRule,
  type IdentityField,
} from './config.js';
export {
  loadProfile,
  matchEndpoint,
  isAmbiguousPath,
  ProfileError,
  ENDPOINT_CLASSES,
  SHIPPED_PROFILES,
  PROFILES_DIR,
  type Profile,
  type Endpoint,
  type EndpointClass,
} from './profiles.js';
export { AssertionSigner, type AssertionOptions } from './assertion.js';
export { OidcVerifier, type OidcIssuerConfig, type JwtOutcome, type JwtRejection } from './auth/oidc.js';
export type { Identity, CredentialKind } from './auth/identity.js';
export type { MtlsConfig, CertificateIdentitySource } from './auth/mtls.js';
export type { AccessRecord } from './access-log.js';
