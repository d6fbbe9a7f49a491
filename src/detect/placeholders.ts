/**
 * Two questions about a value a rule matched. `isTemplate`: is it not a value at all, but a template,
 * a mask, a reference to where the value lives, or a fill-in instruction? Those are dropped, and they
 * are the only values dropped for looking like placeholders. `weakValueHint`: does it read like a
 * default, test or filler value? Those are still credentials (fail closed): they are redacted and
 * reported at low confidence.
 */
const TEMPLATE_PATTERNS: RegExp[] = [
  /^\$[A-Za-z_][A-Za-z0-9_]*$/, // $VAR
  /\$\{[^}]*\}/, // ${VAR}, ${env.X}
  /#\{[^}]*\}/, // #{VAR}: Ruby interpolation, Octopus and Azure DevOps replacement tokens
  /\{\{[^}]*\}\}/, // {{ .Values.x }}, {{resolve:secretsmanager:…}}
  /^\{[A-Za-z_][A-Za-z0-9_.]{0,40}\}$/, // f"{token}", "{password}".format(…); Jenkins' `{AQAAABAAAA…}` secrets are longer
  // %s, %(DB_PASSWORD)s, %WINDOWS_VAR%, standing apart: inside a word (`V%s`, `_%O%o`) they are a random value's characters
  /(?<![A-Za-z0-9])%(?:\([A-Za-z_][A-Za-z0-9_]*\))?s(?![A-Za-z0-9])/, // URL escapes are %XX in hex, never %s
  /(?<![A-Za-z0-9])%[A-Z_][A-Z0-9_]+%(?![A-Za-z0-9])/,
  // <token>, <your-api-key>, <base64(user:password)>, <|endoftext|>, <%= ENV['X'] %>: words inside;
  // `<#St[M{DB2=ld:<]` or `<3c>` are a random salt's characters
  /<[A-Za-z|][A-Za-z0-9 _.:()/|,'"-]{2,59}>|<%[^>]{0,80}%>/,
  /\*{3,}|•{3,}/, // masked
  /\[(?:REDACTED|FILTERED|MASKED|HIDDEN|REMOVED)/i, // already scrubbed by Warden or another tool
  /^\(?(?:null|nil|none|undefined|true|false|yes|no|on|off|empty|unset|not set|required|optional|hidden|masked|redacted|filtered|omitted|removed|deleted)\)?$/i,
  /(?:^|[^a-z])your[_ -]?[a-z_ -]{0,30}?(?:key|token|secret|password|pass|pwd|credentials?|phrase)/i, // YOUR_API_KEY, put your unique phrase here
  // Not `changeme`: it is a real default password (Elasticsearch shipped it), so it stays a weak credential.
  /^(?:placeholder|replace[_-]?me|insert[_-]?here|todo|tbd|fixme)$/i,
  /^(?:\.{3}|…)|(?:\.{3}|…)$/, // sk-... truncated in docs
  // Not a value but what follows an empty one: a command-line flag (`psql --password -U app`), or
  // syntax: the `,` closing a JSON-escaped message after a bare `-p`, the `=` of `:=` when the template
  // after it was refused.
  /^(?:-[A-Za-z]|--[a-z][a-z-]{1,30})$/,
  /^[\\,;:=)\]}]{1,2}$/,
];

/** Names of secrets in a secret manager: the value is where a secret lives, not the secret. */
const SECRET_MANAGER_NAMES: RegExp[] = [/^arn:aws[a-z-]*:(?:secretsmanager|ssm):/, /^projects\/[^/]{1,64}\/secrets\//, /\.vault\.azure\.net\/secrets\//i];

/** References to where the value lives: environment variables and secret managers. */
const REFERENCE_PATTERNS: RegExp[] = [
  /^(?:process\.env|os\.environ|os\.getenv|getenv|ENV\[|System\.getenv)/,
  /^(?:op|vault|sm|gsm|awssm|secretsmanager|ssm|azkv|keyvault|env|file):/i,
  ...SECRET_MANAGER_NAMES,
];

/**
 * Whether `word` (the whitespace-delimited word holding a match) names a secret in a secret manager:
 * in `arn:aws:secretsmanager:…:secret:prod/db`, `secret:` is part of the name, not an assignment.
 */
export function isSecretManagerName(word: string): boolean {
  return SECRET_MANAGER_NAMES.some((p) => p.test(word));
}

/** Documentation example credentials published by vendors; never real. */
const DOCUMENTED_EXAMPLES = new Set([
  'AKIAIOSFODNN7EXAMPLE',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'sk_test_4eC39HqLyjWDarjtT1zdp7dc',
  'sk_test_BQokikJOvBiI2HlWgH4olfQ2',
  'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
]);

export function isTemplate(secret: string): boolean {
  if (secret.trim() === '' || DOCUMENTED_EXAMPLES.has(secret)) return true;
  if (isMask(secret)) return true;
  return TEMPLATE_PATTERNS.some((p) => p.test(secret)) || REFERENCE_PATTERNS.some((p) => p.test(secret));
}

/** `xxxxxxxx`, `sk-xxxx…`: a long run of x, or one that is most of the value. A short run inside a random value is left to the hints. */
function isMask(secret: string): boolean {
  if (/x{8,}/i.test(secret)) return true;
  if (!/x{4,}/i.test(secret)) return false;
  let xs = 0;
  for (const c of secret) if (c === 'x' || c === 'X') xs++;
  return xs * 2 >= secret.length;
}

const WEAK_HINTS: Array<[RegExp, string]> = [
  [/placeholder|changeme|changeit|example|dummy|sample|insert[_-]?here|replace[_-]?me/i, 'reads like a placeholder or example'],
  [/x{4,}/i, 'partly masked'],
  [/\.{3}|…/, 'looks truncated'],
  [/^(.)\1{5,}$/, 'one repeated character'],
  [/0123456789|abcdefghij|123456789/i, 'sequential filler'],
];

/** Why a value reads like a default, test or filler value, or undefined when it does not. */
export function weakValueHint(secret: string): string | undefined {
  for (const [pattern, reason] of WEAK_HINTS) if (pattern.test(secret)) return reason;
  return undefined;
}
