// The files people leave credentials in, written to a temp folder and read by `warden detect`'s finder,
// checked line by line. In each fixture a line starting with `»` must be reported at medium or high
// confidence, one starting with `¿` at low confidence only, and every other line not at all. The marker
// is removed before the file is written; values are sample templates (src/detect/samples.ts).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { expandSample, getDefaultDetector } from '../index.js';
import { findSecretsInPaths, type FileFinding } from './index.js';

interface Fixture {
  path: string;
  text: string;
}

const PEM_BODY = '{base64:64}\n{base64:64}\n{base64:24}==';
/** A registry login as Docker and npm store it: base64 of user:password. */
const basicAuth = (seed: number) => Buffer.from(`deploy:${expandSample('{alnum:20}', seed)}`).toString('base64');

const CREDENTIAL_FILES: Fixture[] = [
  // Package registries
  {
    path: 'home/.npmrc',
    text: `registry=https://registry.npmjs.org/
»//registry.npmjs.org/:_authToken=npm_{alnum:30}{crc32b62:6}
»//nexus.corp.example/repository/npm/:_auth=${basicAuth(1)}
»//nexus.corp.example/repository/npm/:_password={base64:24}
//nexus.corp.example/repository/npm/:username=ci
//registry.example.net/:_authToken=\${NPM_TOKEN}
always-auth=true`,
  },
  {
    path: 'home/.pypirc',
    text: `[distutils]
index-servers =
    pypi
    private

[pypi]
username = __token__
»password = pypi-AgEIcHlwaS5vcmc{base64url:70}

[private]
repository = https://pypi.corp.example/simple
username = deploy
»password = {alnum:18}`,
  },
  {
    path: 'home/.gem/credentials',
    text: `---
»:rubygems_api_key: rubygems_{hex:48}
»:github: Bearer {alnum:40}`,
  },
  {
    path: 'home/.m2/settings.xml',
    text: `<settings>
  <servers>
    <server>
      <id>releases</id>
      <username>deployer</username>
»      <password>{alnum:20}</password>
    </server>
    <server>
      <id>signing</id>
»      <passphrase>{alnum:16}</passphrase>
      <privateKey>\${user.home}/.ssh/id_rsa</privateKey>
    </server>
    <server>
      <id>snapshots</id>
      <password>\${env.SNAPSHOT_PASSWORD}</password>
    </server>
  </servers>
</settings>`,
  },
  {
    path: 'project/gradle.properties',
    text: `org.gradle.jvmargs=-Xmx2g
»ossrhPassword={alnum:16}
ossrhUsername=deployer
signing.keyId=0A1B2C3D
»signing.password={alnum:14}
signing.secretKeyRingFile=/home/ci/.gnupg/secring.gpg
»artifactoryApiKey={alnum:40}`,
  },
  // Databases
  {
    path: 'home/.pgpass',
    text: `# hostname:port:database:username:password
»db.internal:5432:app:app:{alnum:16}
»*:*:*:replicator:{alnum:12}
¿localhost:5432:*:postgres:postgres`,
  },
  {
    path: 'home/.my.cnf',
    text: `[client]
user=root
»password={alnum:14}
host=127.0.0.1

[mysqldump]
user=backup
»password="{alnum:12}"`,
  },
  {
    path: 'project/config/database.yml',
    text: `default: &default
  adapter: postgresql
  pool: 5

development:
  <<: *default
  database: app_dev
  username: app
¿  password: secret

production:
  <<: *default
  database: app
  username: app
»  password: {alnum:16}
  host: <%= ENV['DATABASE_HOST'] %>
test:
  password: <%= ENV['TEST_DATABASE_PASSWORD'] %>`,
  },
  {
    path: 'project/config/mongoid.yml',
    text: `production:
  clients:
    default:
»      uri: mongodb://app:{alnum:16}@mongo-1.internal:27017/app
    analytics:
      database: analytics
      hosts:
        - mongo-2.internal:27017
      options:
        user: analytics
»        password: {alnum:14}`,
  },
  // Home-folder credential files
  {
    path: 'home/.netrc',
    text: `»machine api.heroku.com login ops@example.org password {hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}
machine git.example.net
  login ci-bot
»  password {alnum_-:40}`,
  },
  {
    path: 'home/.git-credentials',
    text: `»https://deploy:{alnum:24}@git.example.net
»https://x-access-token:ghs_{alnum:30}{crc32b62:6}@github.com`,
  },
  {
    path: 'home/.config/gh/hosts.yml',
    text: `github.com:
    user: octo
»    oauth_token: gho_{alnum:30}{crc32b62:6}
    git_protocol: https
github.corp.example:
    user: octo
»    oauth_token: {hex:40}`,
  },
  {
    path: 'home/.config/hub',
    text: `github.com:
- user: octo
»  oauth_token: {hex:40}
  protocol: https`,
  },
  {
    path: 'home/.docker/config.json',
    text: `{
	"auths": {
		"https://index.docker.io/v1/": {
»			"auth": "${basicAuth(2)}"
		},
		"registry.corp.example": {
»			"identitytoken": "{alnum:40}"
		},
		"ghcr.io": {}
	},
	"credsStore": "desktop"
}`,
  },
  {
    path: 'home/.dockercfg',
    text: `{"registry.corp.example":{"email":"ci@example.org",
»"auth":"${basicAuth(3)}"}}`,
  },
  // Cloud CLIs
  {
    path: 'home/.aws/credentials',
    text: `[default]
»aws_access_key_id = AKIA{base32:16}
»aws_secret_access_key = {base64:40}

[prod]
»aws_access_key_id=ASIA{base32:16}
»aws_secret_access_key={base64:40}
»aws_session_token={base64:120}
region = eu-west-1`,
  },
  {
    path: 'home/.s3cfg',
    text: `[default]
»access_key = AKIA{base32:16}
»secret_key = {base64:40}
»gpg_passphrase = {alnum:14}
host_base = s3.amazonaws.com
proxy_host =`,
  },
  {
    path: 'home/.boto',
    text: `[Credentials]
»aws_access_key_id = AKIA{base32:16}
»aws_secret_access_key = {base64:40}
»gs_oauth2_refresh_token = 1//0g{alnum_-:60}

[Boto]
https_validate_certificates = True`,
  },
  {
    path: 'home/.config/gcloud/application_default_credentials.json',
    text: `{
  "client_id": "{digit:12}-{lowernum:32}.apps.googleusercontent.com",
»  "client_secret": "GOCSPX-{alnum_-:28}",
»  "refresh_token": "1//0g{alnum_-:60}",
  "type": "authorized_user"
}`,
  },
  {
    path: 'home/.azure/accessTokens.json',
    text: `[
  {
    "tokenType": "Bearer",
    "expiresIn": 3599,
»    "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{base64url:60}.{base64url:80}",
»    "refreshToken": "0.A{alnum_-:80}",
    "userId": "ops@example.org",
    "_clientId": "{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}"
  }
]`,
  },
  {
    path: 'home/.config/doctl/config.yaml',
    text: `»access-token: dop_v1_{hex:64}
context: default
output: text`,
  },
  {
    path: 'home/.tugboat',
    text: `---
authentication:
»  client_key: {alnum:32}
»  api_key: {alnum:32}
ssh:
  ssh_user: root
  ssh_key_path: ~/.ssh/id_rsa`,
  },
  // FTP, SSH and deployment clients
  {
    path: 'home/.config/filezilla/recentservers.xml',
    text: `<?xml version="1.0" encoding="UTF-8"?>
<FileZilla3 version="3.66.1" platform="*nix">
  <RecentServers>
    <Server>
      <Host>ftp.example.org</Host>
      <Port>21</Port>
      <User>deploy</User>
»      <Pass encoding="base64">{base64:20}</Pass>
    </Server>
  </RecentServers>
</FileZilla3>`,
  },
  {
    path: 'home/.config/filezilla/sitemanager.xml',
    text: `<?xml version="1.0" encoding="UTF-8"?>
<FileZilla3>
  <Servers>
    <Server>
      <Host>sftp.example.org</Host>
      <Protocol>1</Protocol>
      <User>web</User>
»      <Pass>{alnum:14}</Pass>
      <Name>production</Name>
    </Server>
  </Servers>
</FileZilla3>`,
  },
  {
    path: 'home/WinSCP.ini',
    text: `[Sessions\\deploy@sftp.example.org]
HostName=sftp.example.org
UserName=deploy
»Password={HEX:60}
PortNumber=22`,
  },
  {
    path: 'project/sftp-config.json',
    text: `{
    // The tab key will cycle through the settings when first created
    "type": "sftp",
    "save_before_upload": true,
    "host": "sftp.example.org",
    "user": "deploy",
»    "password": "{alnum:12}",
¿    //"password": "password",
    "port": "22",
    "remote_path": "/var/www/",
}`,
  },
  {
    path: 'project/.vscode/sftp.json',
    text: `{
  "name": "production",
  "host": "sftp.example.org",
  "protocol": "sftp",
  "username": "deploy",
»  "password": "{alnum:14}",
»  "passphrase": "{alnum:16}",
  "remotePath": "/srv/app"
}`,
  },
  {
    path: 'project/.ftpconfig',
    text: `{
    "protocol": "ftp",
    "host": "ftp.example.org",
    "user": "deploy",
»    "pass": "{alnum:12}",
    "promptForPass": false,
    "remote": "/"
}`,
  },
  {
    path: 'project/.remote-sync.json',
    text: `{
  "transport": "ftp",
  "hostname": "ftp.example.org",
  "username": "deploy",
»  "password": "{alnum:12}",
  "target": "/public_html"
}`,
  },
  {
    path: 'project/.idea/webServers.xml',
    text: `<?xml version="1.0" encoding="UTF-8"?>
<project version="4">
  <component name="WebServers">
    <option name="servers">
      <webServer id="{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}" name="production" url="https://example.org">
»        <fileTransfer host="ftp.example.org" port="21" accessType="FTP" login="deploy" password="{hex:40}" />
      </webServer>
    </option>
  </component>
</project>`,
  },
  {
    path: 'project/.idea/dataSources.xml',
    text: `<?xml version="1.0" encoding="UTF-8"?>
<project version="4">
  <component name="DataSourceManagerImpl" format="xml" multifile-model="true">
    <data-source source="LOCAL" name="prod" uuid="{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}">
      <driver-ref>postgresql</driver-ref>
»      <jdbc-url>jdbc:postgresql://db.internal:5432/app?user=app&amp;password={alnum:16}</jdbc-url>
    </data-source>
  </component>
</project>`,
  },
  {
    path: 'home/.local/share/DBeaverData/workspace6/General/.dbeaver/data-sources.json',
    text: `{
  "connections": {
    "postgres-jdbc-1": {
      "provider": "postgresql",
      "name": "prod",
      "configuration": {
        "host": "db.internal",
        "database": "app",
        "user": "app",
»        "password": "{alnum:16}",
        "auth-model": "native"
      }
    }
  }
}`,
  },
  {
    path: 'home/.3T/robo-3t/1.4.4/robo3t.json',
    text: `{
  "connections": [
    {
      "connectionName": "prod",
      "serverHost": "mongo.internal",
      "credentials": [
        {
          "databaseName": "admin",
          "enabled": true,
»          "userPassword": "{alnum:16}",
          "userName": "admin"
        }
      ],
      "ssh": {
        "enabled": false,
»        "userPassword": "{alnum:12}",
»        "passphrase": "{alnum:12}"
      }
    }
  ]
}`,
  },
  // Frameworks
  {
    path: 'site/wp-config.php',
    text: `<?php
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'wordpress' );
»define( 'DB_PASSWORD', '{alnum:16}' );
define( 'DB_HOST', 'localhost' );
»define( 'AUTH_KEY',         '{alnum_-:64}' );
»define( 'SECURE_AUTH_KEY',  '{alnum_-:64}' );
»define( 'LOGGED_IN_KEY',    '{alnum_-:64}' );
»define( 'NONCE_KEY',        '{alnum_-:64}' );
»define( 'AUTH_SALT',        '{alnum_-:64}' );
»define( 'SECURE_AUTH_SALT', '{alnum_-:64}' );
»define( 'LOGGED_IN_SALT',   '{alnum_-:64}' );
»define( 'NONCE_SALT',       '{alnum_-:64}' );
$table_prefix = 'wp_';`,
  },
  {
    path: 'laravel/.env',
    text: `APP_NAME=Laravel
APP_ENV=production
»APP_KEY=base64:{base64:43}=
DB_CONNECTION=mysql
DB_USERNAME=forge
»DB_PASSWORD={alnum:16}
REDIS_PASSWORD=null
»MAIL_PASSWORD={alnum:14}
»PUSHER_APP_SECRET={alnum:20}`,
  },
  {
    path: 'laravel/config/database.php',
    text: `<?php
return [
    'connections' => [
        'mysql' => [
            'driver' => 'mysql',
            'username' => env('DB_USERNAME', 'forge'),
»            'password' => env('DB_PASSWORD', '{alnum:14}'),
        ],
        'legacy' => [
»            'password' => '{alnum:12}',
            'password_timeout' => 10800,
        ],
    ],
];`,
  },
  {
    path: 'rails/config/master.key',
    text: `»{hex:32}`,
  },
  {
    path: 'rails/config/secrets.yml',
    text: `development:
»  secret_key_base: {hex:128}
production:
  secret_key_base: <%= ENV["SECRET_KEY_BASE"] %>`,
  },
  {
    path: 'django/settings.py',
    text: `»SECRET_KEY = 'django-insecure-{alnum_-:50}'
DEBUG = False
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': 'app',
        'USER': 'app',
»        'PASSWORD': '{alnum:16}',
        'HOST': 'db.internal',
    }
}`,
  },
  {
    path: 'spring/src/main/resources/application.properties',
    text: `spring.datasource.url=jdbc:mysql://db.internal:3306/app
spring.datasource.username=app
»spring.datasource.password={alnum:16}
»spring.mail.password: {alnum:12}
»jwt.secret={alnum:48}
server.port=8080`,
  },
  {
    path: 'spring/src/main/resources/application.yml',
    text: `spring:
  datasource:
    url: jdbc:postgresql://db.internal:5432/app
    username: app
»    password: {alnum:16}
  security:
    oauth2:
      client:
        registration:
          github:
            client-id: {hex:20}
»            client-secret: {hex:40}
server:
  port: 8080`,
  },
  {
    path: 'java/db.properties',
    text: `»db.url=jdbc:oracle:thin:scott/{alnum:12}@db.internal:1521:ORCL
»legacy.url=jdbc:sqlserver://db.internal:1433;databaseName=app;user=sa;password={alnum:14};`,
  },
  // System and server files
  {
    path: 'etc/.htpasswd',
    text: `»admin:$apr1\${alnum:8}\${alnum:22}
»deploy:{SHA}{base64:27}=
»ops:$2y$10\${alnum:53}
»old:{alnum:13}`,
  },
  {
    path: 'etc/shadow',
    text: `»root:$6\${alnum:16}\${alnum:86}:19500:0:99999:7:::
daemon:*:19500:0:99999:7:::
»deploy:$y$j9T\${alnum:22}\${alnum:43}:19500:0:99999:7:::
nobody:!:19500::::::
»legacy:{alnum:13}:19500:0:99999:7:::`,
  },
  {
    path: 'jenkins/credentials.xml',
    text: `<?xml version='1.1' encoding='UTF-8'?>
<com.cloudbees.plugins.credentials.SystemCredentialsProvider plugin="credentials@1337">
  <domainCredentialsMap class="hudson.util.CopyOnWriteMap$Hash">
    <entry>
      <java.util.concurrent.CopyOnWriteArrayList>
        <com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>
          <id>deploy</id>
          <username>deploy</username>
»          <password>{AQAAABAAAAAQ{base64:40}=}</password>
        </com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>
        <org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl>
          <id>slack</id>
»          <secret>{AQAAABAAAAAw{base64:60}=}</secret>
        </org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl>
      </java.util.concurrent.CopyOnWriteArrayList>
    </entry>
  </domainCredentialsMap>
</com.cloudbees.plugins.credentials.SystemCredentialsProvider>`,
  },
  {
    path: 'jenkins/secrets/master.key',
    text: `»{hex:256}`,
  },
  {
    path: 'ansible/inventory/hosts',
    text: `[web]
»web1 ansible_host=10.0.0.11 ansible_user=deploy ansible_password={alnum:14}
»web2 ansible_host=10.0.0.12 ansible_become_pass={alnum:12}

[db:vars]
»ansible_ssh_pass={alnum:12}
ansible_user=root`,
  },
  {
    path: 'ansible/group_vars/all.yml',
    text: `ansible_user: deploy
»ansible_become_password: {alnum:14}
db_password: "{{ vault_db_password }}"`,
  },
  {
    path: 'k8s/db-secret.yaml',
    text: `apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
data:
»  username: YWRtaW4=
»  password: {base64:24}
»  DB_URL: {base64:60}
stringData:
»  api-token: {alnum:32}`,
  },
  {
    path: 'home/.kube/config',
    text: `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: {base64:80}
    server: https://10.0.0.1:6443
  name: prod
users:
- name: admin
  user:
    client-certificate-data: {base64:80}
»    client-key-data: {base64:80}
- name: ci
  user:
»    token: {alnum:40}
- name: legacy
  user:
    username: admin
»    password: {alnum:16}`,
  },
  {
    path: 'home/.mozilla/firefox/abcd1234.default/logins.json',
    text: `{"nextId":3,"logins":[{"id":1,"hostname":"https://example.org","httpRealm":null,"formSubmitURL":"https://example.org",
"encryptedUsername":"MDoEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECA{base64:16}",
»"encryptedPassword":"MEIEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECA{base64:32}",
"guid":"{{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}}","encType":1,"timesUsed":1}]}`,
  },
  // Private keys
  {
    path: 'keys/id_ed25519',
    text: `»-----BEGIN OPENSSH PRIVATE KEY-----
${PEM_BODY}
-----END OPENSSH PRIVATE KEY-----`,
  },
  {
    path: 'keys/legacy.pem',
    text: `»-----BEGIN RSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,{HEX:32}

${PEM_BODY}
-----END RSA PRIVATE KEY-----
»-----BEGIN ENCRYPTED PRIVATE KEY-----
${PEM_BODY}
-----END ENCRYPTED PRIVATE KEY-----`,
  },
  {
    path: 'keys/deploy.ppk',
    text: `PuTTY-User-Key-File-3: ssh-ed25519
Encryption: none
Comment: deploy@example.org
Public-Lines: 2
{base64:64}
{base64:4}
Private-Lines: 1
»{base64:44}
Private-MAC: {hex:64}`,
  },
  // Mail and chat clients
  {
    path: 'home/.esmtprc',
    text: `hostname = smtp.example.org:587
username = "ops@example.org"
»password = "{alnum:14}"
starttls = required`,
  },
  {
    path: 'home/.muttrc',
    text: `set from = "ops@example.org"
»set smtp_url = "smtps://ops@example.org:{alnum:14}@smtp.example.org:465/"
»set imap_pass = "{alnum:14}"
set smtp_pass = $my_pass`,
  },
  {
    path: 'home/.config/hexchat/servlist.conf',
    text: `v=2.16.1

N=Libera.Chat
I=ops
»P={alnum:14}
»B={alnum:12}
S=irc.libera.chat/6697`,
  },
  {
    path: 'srv/murmur.ini',
    text: `database=/var/lib/mumble-server/mumble-server.sqlite
»serverpassword={alnum:8}{digit:4}
port=64738
»icesecretwrite={alnum:16}`,
  },
];

/** Expected and actual report lines of one fixture: `»`/`¿` lines expected, found lines with their confidence. */
function expectation(fixture: Fixture, seed: number): { text: string; expected: Map<number, 'sure' | 'low'> } {
  const expected = new Map<number, 'sure' | 'low'>();
  // Line by line, so a checksum template ({crc32b62:6}) covers only its own line's random characters.
  const lines = fixture.text.split('\n').map((line, i) => {
    if (line.startsWith('»')) expected.set(i + 1, 'sure');
    else if (line.startsWith('¿')) expected.set(i + 1, 'low');
    else return expandSample(line, seed + i);
    return expandSample(line.slice(1), seed + i);
  });
  return { text: lines.join('\n') + '\n', expected };
}

let root: string;
const texts = new Map<string, { expected: Map<number, 'sure' | 'low'> }>();
let findings: FileFinding[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'warden-credfiles-'));
  CREDENTIAL_FILES.forEach((fixture, i) => {
    const { text, expected } = expectation(fixture, 1000 + i);
    mkdirSync(dirname(join(root, fixture.path)), { recursive: true });
    writeFileSync(join(root, fixture.path), text);
    texts.set(fixture.path, { expected });
  });
  ({ findings } = await findSecretsInPaths([root], { detector: getDefaultDetector(), fingerprintKey: Buffer.from('k'), cwd: root, gitignore: false }));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('credential files', () => {
  for (const fixture of CREDENTIAL_FILES) {
    it(fixture.path, () => {
      const { expected } = texts.get(fixture.path)!;
      const found = new Map<number, FileFinding[]>();
      for (const f of findings.filter((f) => f.path === fixture.path)) found.set(f.line, [...(found.get(f.line) ?? []), f]);
      const describeLine = (line: number) => (found.get(line) ?? []).map((f) => `${f.ruleId}/${f.confidence}`).join(',') || 'nothing';
      const wrong: string[] = [];
      for (const line of new Set([...expected.keys(), ...found.keys()])) {
        const want = expected.get(line);
        const got = found.get(line) ?? [];
        const sure = got.some((f) => f.confidence !== 'low');
        const ok = want === 'sure' ? sure : want === 'low' ? got.length > 0 && !sure : got.length === 0;
        if (!ok) wrong.push(`line ${line}: expected ${want ?? 'nothing'}, found ${describeLine(line)}`);
      }
      assert.deepEqual(wrong, []);
    });
  }
});

describe('binary files that hold credentials', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-credfiles-binary-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads SQLite cells (by column name and JSON content), reports key containers, and notes every other binary', async () => {
    const refreshToken = expandSample('1//0g{alnum_-:60}', 5);
    const password = expandSample('{alnum:16}', 6);
    mkdirSync(join(dir, '.config/gcloud'), { recursive: true });
    const db = new Database(join(dir, '.config/gcloud/credentials.db'));
    db.exec('CREATE TABLE credentials (account_id TEXT PRIMARY KEY, value BLOB); CREATE TABLE users (name TEXT, password TEXT, note TEXT)');
    db.prepare('INSERT INTO credentials VALUES (?, ?)').run(
      'ops@example.org',
      Buffer.from(JSON.stringify({ client_id: 'x.apps.googleusercontent.com', refresh_token: refreshToken, type: 'authorized_user' })),
    );
    db.prepare('INSERT INTO users VALUES (?, ?, ?)').run('alice', 'admin', 'first');
    db.prepare('INSERT INTO users VALUES (?, ?, ?)').run('bob', password, 'second');
    db.close();
    writeFileSync(join(dir, 'client.p12'), Buffer.from([0x30, 0x82, 0x0a, 0x1b, 0x02, 0x01, 0x03, 0x30, 0x82, 0x09, 0xe1, 0x06, 0x09, 0x00]));
    writeFileSync(join(dir, 'server.jks'), Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0x00, 0x00, 0x00, 0x02, 0x00]));
    writeFileSync(join(dir, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));
    writeFileSync(join(dir, 'broken.sqlite'), Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(200, 7)]));
    const result = await findSecretsInPaths([dir], { detector: getDefaultDetector(), fingerprintKey: Buffer.from('k'), cwd: dir });
    assert.deepEqual(
      result.findings.map((f) => `${f.path}:${f.line}:${f.column} ${f.ruleId}/${f.confidence}`),
      [
        '.config/gcloud/credentials.db!credentials:1:2 google-oauth-refresh-token/high',
        '.config/gcloud/credentials.db!users:1:2 structured-password/low',
        '.config/gcloud/credentials.db!users:2:2 structured-password/medium',
        'client.p12:1:1 pkcs12-file/high',
        'server.jks:1:1 java-keystore-file/high',
      ],
    );
    assert.deepEqual(
      result.notes.map((n) => `${n.path} ${n.reason}`),
      ['broken.sqlite unreadable', 'logo.png binary'],
    );
    const serialised = JSON.stringify(result);
    assert.ok(!serialised.includes(refreshToken) && !serialised.includes(password), 'no secret in the result');
  });
});

describe('warden:allow on key/value findings', () => {
  it('drops a finding on a marked line whatever rule found it: a key rule in YAML and INI, as a line rule in .env', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-credfiles-allow-'));
    try {
      const value = (seed: number) => expandSample('{alnum:12}', seed);
      writeFileSync(join(dir, 'app.yaml'), `mail:\n  pw: ${value(1)} # warden:allow fixture\n  db_pw: ${value(2)}\n`);
      writeFileSync(join(dir, 'conf.ini'), `[ssh]\nUserPwd = ${value(3)} ; warden:allow ini fixture\n`);
      const result = await findSecretsInPaths([dir], { detector: getDefaultDetector(), fingerprintKey: Buffer.from('k'), cwd: dir });
      assert.deepEqual(
        result.findings.map((f) => `${f.path}:${f.line} ${f.ruleId}`),
        ['app.yaml:3 structured-password'],
      );
      assert.deepEqual(result.allowed.map((f) => `${f.path}:${f.line} ${f.ruleId} ${f.allowedBecause}`).sort(), [
        'app.yaml:2 structured-password fixture',
        'conf.ini:2 structured-password ini fixture',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
