/**
 * Words one of which every credential-named field name holds (`api_key`, `x-auth-token`, `password`):
 * scrub's field redaction reads only the quoted names holding one. The shipped detectors watch for them
 * (DetectorOptions.watchWords), so the keyword pass that decides which rules run finds them too, and a
 * scrub walks its text once instead of twice.
 */
export const FIELD_NAME_HINTS: readonly string[] = [
  'authori',
  'cookie',
  'key',
  'pass',
  'pwd',
  'secret',
  'token',
  'credential',
  'bearer',
  'session',
  // One-time and short codes (`otp`, `mfa_code`, `verificationCode`, `pin`), and two credential names.
  'otp',
  'pin',
  'mfa',
  '2fa',
  'verification',
  'security',
  'authcode',
  'auth_code',
  'auth-code',
  'cvv',
  'cvc',
  'jwt',
  'assertion',
];
