/**
 * Labelled log records for the detection-quality measurement, one generator a family. Every record is
 * written in one of the shapes logs take (bare, syslog, logfmt, a JSON-escaped message in NDJSON) or,
 * when the credential is a JSON member, as an NDJSON object. Secrets are weak as often as strong:
 * `root`, `guest`, `hunter2` are what real DSNs hold.
 */
import { expandSample } from '../../src/detect/index.js';
import type { CorpusRandom } from '../../src/detect/test-log-corpus.js';
import { escapeParts, jsonEscape, render, secret, structure, type LabelledLine, type LogRecord, type Part } from './labelled.js';
import { TOKEN_NEAR_MISSES, TOKEN_SHAPES } from './provider-tokens.js';

export const WEAK_PASSWORDS = [
  'admin',
  'root',
  'hunter2',
  'guest',
  'password',
  'changeme',
  '123456',
  'secret',
  'dummy-pass-2291',
  'P@ssw0rd',
  'letmein',
  'postgres',
  'test',
  'qwerty',
];
/** Templates and references: in a credential position, but not a credential. */
export const TEMPLATES = [
  '${DB_PASSWORD}',
  '$DB_PASSWORD',
  '{{ .Values.db.password }}',
  '<password>',
  '%s',
  '***',
  '[REDACTED]',
  '{{ db_password }}',
  '%(password)s',
];

/** A password as people set them: a default, a word with digits, or random with punctuation. */
export function password(r: CorpusRandom, charset = 'alnum'): string {
  switch (r.int(0, 2)) {
    case 0:
      return r.pick(WEAK_PASSWORDS);
    case 1:
      return `${r.pick(['Summer', 'winter', 'Gateway', 'acme', 'Welcome', 'db'])}${r.int(1, 2030)}${r.pick(['', '!', '#', '.'])}`;
    default:
      return r.chars(charset, r.int(10, 28));
  }
}

export function token(r: CorpusRandom, template: string): string {
  return expandSample(template, r.int(1, 2 ** 31));
}

/** Writes `parts` as one of the line shapes a log takes. */
function logLine(r: CorpusRandom, parts: Part[], label?: LabelledLine['label']): LabelledLine {
  switch (r.int(0, 3)) {
    case 0:
      return render(parts, label);
    case 1:
      return render([`Dec  ${r.int(1, 9)} 10:${r.int(10, 59)}:${r.int(10, 59)} app-${r.int(1, 9)} worker[${r.int(100, 99999)}]: `, ...parts], label);
    case 2:
      return render([`time=${r.timestamp()} level=info caller=main.go:${r.int(10, 999)} `, ...parts, ` duration_ms=${r.int(1, 900)}`], label);
    default:
      return render(
        [`{"ts":"${r.timestamp()}","level":"warn","msg":"`, ...escapeParts(parts, jsonEscape), `","request_id":"req_${r.chars('alnum', 20)}"}`],
        label,
      );
  }
}

/** An NDJSON record whose members (already JSON) are `members`. */
function jsonRecord(r: CorpusRandom, members: Part[], label?: LabelledLine['label']): LabelledLine {
  return render([`{"ts":"${r.timestamp()}","level":"info",`, ...members, `,"trace_id":"${r.hex(32)}"}`], label);
}

const one = (family: string, line: LabelledLine): LogRecord => ({ family, lines: [line] });

function providerToken(r: CorpusRandom): LogRecord {
  const family = 'provider-token';
  if (r.int(0, 5) === 0) {
    const miss = token(r, r.pick(TOKEN_NEAR_MISSES));
    // Outside a credential position: a look-alike there is not a credential.
    return one(family, logLine(r, [r.pick(['unknown model ', 'docs: set the key like ', 'format check failed for value ']), miss], 'negative'));
  }
  const shape = r.pick(TOKEN_SHAPES);
  const value = token(r, shape.template);
  if (shape.context) {
    const [before, after] = shape.context.split('{}') as [string, string];
    return one(family, logLine(r, [before, secret(value), after]));
  }
  switch (r.int(0, 4)) {
    case 0:
      return one(family, logLine(r, [`calling ${shape.provider} with key `, secret(value), ' (attempt 2)']));
    case 1:
      return one(family, jsonRecord(r, [`"provider":"${shape.provider}","credential":"`, secret(value), '"']));
    case 2:
      return one(family, logLine(r, [`GET /v1/models?api_key=`, secret(value), ` 401 ${r.int(1, 90)}ms`]));
    case 3:
      return one(family, logLine(r, [`config loaded from env: `, secret(value)]));
    default:
      return one(family, logLine(r, [`error: 401 Unauthorized for token `, secret(value), ': revoked']));
  }
}

const URL_SCHEMES = [
  'postgres',
  'postgresql',
  'mysql',
  'mariadb',
  'mongodb',
  'mongodb+srv',
  'redis',
  'rediss',
  'amqp',
  'amqps',
  'ftp',
  'sftp',
  'https',
  'http',
  'clickhouse',
  'jdbc:postgresql',
  'jdbc:mysql',
  'smtp',
  'ldap',
  'nats',
  'mqtt',
  'sqlserver',
];
const URL_PASSWORD_CHARSET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$*';

function urlPassword(r: CorpusRandom): LogRecord {
  const family = 'url-password';
  const scheme = r.pick(URL_SCHEMES);
  const user = r.pick(['app', 'root', 'guest', 'admin', 'svc_gateway', 'default', 'deploy']);
  const host = `${r.pick(['prod-db', 'db', 'cache', 'mq', 'localhost', '10.0.3.7', 'clickhouse.internal'])}:${r.int(1000, 65000)}`;
  if (r.int(0, 4) === 0) {
    return one(family, logLine(r, ['connecting to ', `${scheme}://${user}:${r.pick(TEMPLATES)}@${host}/app`], 'negative'));
  }
  const pass = password(r, URL_PASSWORD_CHARSET);
  const encoded = encodeURIComponent(pass);
  switch (r.int(0, 3)) {
    case 0:
      return one(family, logLine(r, ['connecting to ', `${scheme}://${user}:`, secret(encoded), `@${host}/app?sslmode=require`]));
    case 1:
      return one(family, jsonRecord(r, [`"dsn":"${scheme}://${user}:`, secret(jsonEscape(encoded)), `@${host}/app"`]));
    case 2:
      return one(family, logLine(r, ['retrying ', `${scheme}://${user}:`, secret(encoded), `@${host}`, ` in ${r.int(1, 30)}s: connection refused`]));
    default:
      return one(family, logLine(r, ['git clone ', `https://${user}:`, secret(encoded), '@git.internal/org/repo.git']));
  }
}

const ASSIGNMENT_KEYS = [
  'password',
  'PASSWORD',
  'passwd',
  'pwd',
  'pass',
  'secret',
  'SECRET',
  'token',
  'TOKEN',
  'user_password',
  'db_password',
  'DB_PASS',
  'RDS_PASSWORD',
  'client_secret',
  'api_key',
  'apiKey',
  'access_token',
  'auth_token',
  'secret_key',
  'MYSQL_ROOT_PASSWORD',
  'REDIS_PASSWORD',
  'smtp_pass',
  'Password',
];

function assignment(r: CorpusRandom): LogRecord {
  const family = 'assignment';
  const key = r.pick(ASSIGNMENT_KEYS);
  const sep = r.pick(['=', ': ', ' = ', '=>', ':=', ':']);
  const quote = r.pick(['', '', "'", '"']);
  if (r.int(0, 4) === 0) {
    return one(family, logLine(r, [`${key}${sep}${quote}${r.pick([...TEMPLATES, ''])}${quote}`], 'negative'));
  }
  const value = r.int(0, 3) === 0 ? r.chars('base64url', r.int(16, 40)) : password(r);
  if (r.int(0, 3) === 0) return one(family, jsonRecord(r, [`"${key}":"`, secret(jsonEscape(value)), '"']));
  return one(
    family,
    logLine(r, [
      r.pick(['', 'loaded config ', 'env: ', 'DEBUG settings ']),
      `${key}${sep}${quote}`,
      secret(value),
      `${quote}${r.pick(['', ' host=db', ' user=app'])}`,
    ]),
  );
}

function header(r: CorpusRandom): LogRecord {
  const family = 'header';
  const kind = r.int(0, 6);
  if (r.int(0, 5) === 0) {
    return one(
      family,
      logLine(
        r,
        [
          r.pick([
            'Authorization: Bearer <token>',
            'Authorization: Bearer ${TOKEN}',
            'Authorization: Basic [REDACTED]',
            'X-Api-Key: ***',
            'Cookie: <cookie>',
            'Authorization: Bearer {{ token }}',
          ]),
        ],
        'negative',
      ),
    );
  }
  const [name, scheme, value] = ((): [string, string, string] => {
    switch (kind) {
      case 0:
        return ['Authorization', 'Bearer ', r.chars('base64url', r.int(24, 64))];
      case 1:
        return ['Authorization', 'Basic ', Buffer.from(`${r.pick(['app', 'admin', 'ci'])}:${password(r)}`).toString('base64')];
      case 2:
        return ['Proxy-Authorization', 'Basic ', Buffer.from(`proxy:${password(r)}`).toString('base64')];
      case 3:
        return ['Cookie', `${r.pick(['session', 'sessionid', '_gitlab_session', 'connect.sid'])}=`, r.chars('alnum', r.int(24, 48))];
      case 4:
        return ['X-Api-Key', '', r.chars('alnum', r.int(20, 48))];
      case 5:
        return ['Authorization', 'Token ', r.chars('hex', 40)];
      default:
        return ['api-key', '', r.chars('hex', 32)];
    }
  })();
  switch (r.int(0, 2)) {
    case 0:
      return one(family, logLine(r, [`> ${name}: ${scheme}`, secret(value)]));
    case 1:
      return one(
        family,
        jsonRecord(r, [
          `"req":{"method":"POST","url":"/v1/chat/completions","headers":{"content-type":"application/json","${name.toLowerCase()}":"${scheme}`,
          secret(value),
          '"}}',
        ]),
      );
    default:
      return one(family, logLine(r, [`curl -s -H '${name}: ${scheme}`, secret(value), `' https://api.internal/v1/items`]));
  }
}

function cliFlag(r: CorpusRandom): LogRecord {
  const family = 'cli-flag';
  if (r.int(0, 5) === 0) {
    return one(
      family,
      logLine(
        r,
        [
          r.pick([
            '+ mysql -u root -p',
            '+ psql --password -U app',
            '+ mysql --password=$MYSQL_PWD -u app',
            '+ redis-cli -a "${REDIS_PASSWORD}" ping',
            '+ docker login -u ci --password-stdin',
          ]),
        ],
        'negative',
      ),
    );
  }
  const pass = password(r);
  const forms: Part[][] = [
    ['+ mysql -h db -u root -p', secret(pass), ' app'],
    ['+ mysql --user=app --password=', secret(pass), ' -e "select 1"'],
    ['+ mysqldump -u backup --password ', secret(pass), ' --all-databases'],
    ['+ curl -u admin:', secret(pass), ' https://registry.internal/v2/'],
    ['+ curl --user ci:', secret(pass), ' -X POST https://jenkins.internal/job/deploy/build'],
    ['+ redis-cli -h cache -a ', secret(pass), ' info'],
    ['+ sshpass -p ', secret(pass), ' ssh deploy@10.0.0.5'],
    ['+ docker login -u ci -p ', secret(pass), ' registry.internal'],
    ['+ mongosh --username admin --password ', secret(pass), ' --host db'],
    ['+ psql "host=db user=app password=', secret(pass), ' dbname=app"'],
    ['+ wget --password=', secret(pass), ' --user=ftp ftp://files.internal/dump.sql'],
    ['+ htpasswd -b /etc/nginx/.htpasswd admin ', secret(pass)],
  ];
  return one(family, logLine(r, r.pick(forms)));
}

function privateKeyLog(r: CorpusRandom): LogRecord {
  const family = 'private-key';
  const pem = privateKeyPem(r);
  if (r.int(0, 1) === 0) {
    // Printed with real newlines into a text log: every body line is secret.
    const [begin, ...rest] = pem;
    const end = rest.pop()!;
    return {
      family,
      lines: [
        structure(`${r.timestamp()} ERROR tls: failed to load key: ${begin}`),
        ...rest.map((line) => (isPemHeader(line) ? structure(line) : render([secret(line)]))),
        structure(end),
      ],
    };
  }
  const body = pem.slice(1, -1).join('\\n');
  return one(family, render([`{"ts":"${r.timestamp()}","level":"error","msg":"bad key","key":"${pem[0]}\\n`, secret(body), `\\n${pem[pem.length - 1]}\\n"}`]));
}

/** One key in one of the PEM flavours, as lines (BEGIN … END). */
export function privateKeyPem(r: CorpusRandom): string[] {
  const kind = r.pick([
    'RSA PRIVATE KEY',
    'PRIVATE KEY',
    'ENCRYPTED PRIVATE KEY',
    'EC PRIVATE KEY',
    'DSA PRIVATE KEY',
    'OPENSSH PRIVATE KEY',
    'PGP PRIVATE KEY BLOCK',
    'RSA PRIVATE KEY (encrypted)',
  ]);
  const lead: Record<string, string> = {
    'RSA PRIVATE KEY': 'MIIEpAIBAAKCAQEA',
    'PRIVATE KEY': 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
    'ENCRYPTED PRIVATE KEY': 'MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkq',
    'EC PRIVATE KEY': 'MHcCAQEEI',
    'DSA PRIVATE KEY': 'MIIBuwIBAAKBgQD',
    'OPENSSH PRIVATE KEY': 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
    'PGP PRIVATE KEY BLOCK': 'lQOYBGVh',
  };
  const width = kind === 'OPENSSH PRIVATE KEY' ? 70 : 64;
  const lines = r.int(3, 12);
  const base = kind.replace(' (encrypted)', '');
  const body: string[] = [];
  if (kind === 'RSA PRIVATE KEY (encrypted)') body.push('Proc-Type: 4,ENCRYPTED', `DEK-Info: AES-128-CBC,${r.chars('HEX', 32)}`, '');
  if (kind === 'PGP PRIVATE KEY BLOCK') body.push('Version: GnuPG v2', '');
  const first = lead[base] ?? '';
  for (let i = 0; i < lines; i++) body.push(i === 0 ? first + r.chars('base64', width - first.length) : r.chars('base64', width));
  body.push(`${r.chars('base64', r.int(8, 60))}${r.pick(['', '=', '=='])}`);
  if (kind === 'PGP PRIVATE KEY BLOCK') body.push(`=${r.chars('base64', 4)}`);
  return [`-----BEGIN ${base}-----`, ...body, `-----END ${base}-----`];
}

/** Header lines (`Proc-Type: …`) and the blank line after them sit inside a PEM block but are not key material. */
export const isPemHeader = (line: string): boolean => line === '' || /^[A-Za-z-]+: /.test(line);

export const LOG_FAMILIES: Record<string, (r: CorpusRandom) => LogRecord> = {
  'provider-token': providerToken,
  'url-password': urlPassword,
  assignment,
  header,
  'cli-flag': cliFlag,
  'private-key': privateKeyLog,
};
