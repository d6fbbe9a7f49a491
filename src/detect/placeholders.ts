/**
 * Values that look like secrets in shape but are placeholders, templates or documentation examples.
 * Applied to every rule's secret after its own checks (gitleaks' global allowlist plays this role).
 */
const PLACEHOLDER_PATTERNS: RegExp[] = [
  /x{4,}/i, // sk-xxxx, xxxxxxxx
  /\*{3,}/, // masked
  /\.{3}|…/, // sk-... truncated in docs
  /^\$\{?[A-Z_][A-Z0-9_]*\}?$/, // $VAR, ${VAR}
  /\$\{[^}]*\}/, // template expansion inside the value
  /\{\{[^}]*\}\}/, // {{ handlebars }}
  /%[A-Z_]+%/, // %WINDOWS_VAR%
  /<[^>]{1,60}>/, // <token>, <your-api-key>
  /\[REDACTED/i, // already scrubbed by Warden or another tool
  /^(.)\1{7,}$/, // aaaaaaaa, 00000000
  /(?:^|[^a-z])(?:your|my)[_-]?(?:api[_-]?)?(?:key|token|secret|password)/i, // YOUR_API_KEY
  /placeholder|changeme|redacted|example|dummy|sample|insert[_-]?here|replace[_-]?me/i,
  /^(?:true|false|null|none|undefined|nil|string|password|secret|token)$/i,
  /0123456789|abcdefghij|123456789/i, // sequential filler
];

/** Documentation example credentials published by vendors; never real. */
const DOCUMENTED_EXAMPLES = new Set([
  'AKIAIOSFODNN7EXAMPLE',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'sk_test_4eC39HqLyjWDarjtT1zdp7dc',
  'sk_test_BQokikJOvBiI2HlWgH4olfQ2',
  'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
]);

export function isPlaceholder(secret: string): boolean {
  if (DOCUMENTED_EXAMPLES.has(secret)) return true;
  return PLACEHOLDER_PATTERNS.some((p) => p.test(secret));
}
