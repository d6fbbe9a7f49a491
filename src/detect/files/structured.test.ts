import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyPathOf } from '../engine.js';
import { parseStructured, structuredFormat, type StructuredFormat } from './structured.js';

/** Each pair as `key/path=value`, checking that its offsets hold exactly its value. */
function pairs(format: StructuredFormat, text: string): string[] {
  return parseStructured(format, text).map((p) => {
    assert.equal(text.slice(p.start, p.end), p.value, `offsets of ${p.path.join('/')}`);
    return `${keyPathOf(p.path)}=${p.value}`;
  });
}

describe('structured files', () => {
  it('tells formats by name, extension and first characters, and leaves code alone', () => {
    const cases: Array<[string, string, StructuredFormat | undefined]> = [
      ['project/sftp-config.json', '{', 'json'],
      ['home/.dockercfg', '{', 'json'],
      ['home/.kube/config', 'apiVersion: v1', 'yaml'],
      ['k8s/secret.yml', '', 'yaml'],
      ['home/.npmrc', '', 'key-value'],
      ['laravel/.env.production', '', 'key-value'],
      ['home/.aws/credentials', '', 'key-value'],
      ['site/wp-config.php', '', 'php'],
      ['web/Web.config', '', 'xml'],
      ['notes', '<?xml version="1.0"?>', 'xml'],
      ['notes', '{"a": 1}', 'json'],
      ['src/app.ts', 'const password = "x";', undefined],
      ['README.md', '# title', undefined],
    ];
    for (const [path, head, format] of cases) assert.equal(structuredFormat(path, head), format, path);
  });

  it('JSON with comments and trailing commas, nested keys, numbers; list items add no key', () => {
    const text =
      '{\n  // "password": "commented",\n  "host": "h", /* note */\n  "auths": {"r.io": {"auth": "dXNlcjpw"}},\n  "pin": 1234,\n  "users": [{"user": {"token": "t1"}}],\n}\n';
    assert.deepEqual(pairs('json', text), ['host=h', 'auths/r_io/auth=dXNlcjpw', 'pin=1234', 'users/user/token=t1']);
  });

  it('YAML: every document, quoted and plain scalars, list items, and a Kubernetes kind leading the path', () => {
    const text =
      "a:\n  b: 'x y' # note\n  c: |\n    block\nusers:\n- name: ci\n  user:\n    token: t1\n---\napiVersion: v1\nkind: Secret\ndata:\n  password: cGFzcw==\n";
    assert.deepEqual(pairs('yaml', text), [
      'a/b=x y',
      'users/name=ci',
      'users/user/token=t1',
      'secret/api_version=v1',
      'secret/kind=Secret',
      'secret/data/password=cGFzcw==',
    ]);
  });

  it('XML: element text, attributes, name/value elements, CDATA; entities stay as written', () => {
    const text =
      '<s>\n  <Pass encoding="base64">cGFzcw==</Pass>\n  <option name="password" value="p&amp;w" />\n  <add key="DbPassword" value="v"/>\n  <t><![CDATA[c d]]></t>\n</s>';
    assert.deepEqual(pairs('xml', text), ['s/pass/encoding=base64', 's/pass=cGFzcw==', 's/option/password=p&amp;w', 's/add/db_password=v', 's/t=c d']);
  });

  it('key-value lines: sections, export and set, quotes, comments, colons in keys, inventory pairs', () => {
    const text =
      '[client]\npassword = "a b" # note\nexport API_KEY=k1\nset imap_pass = "p"\n//reg.io/:_authToken=t\nspring.mail.password: m\nweb1 ansible_host=10.0.0.1 ansible_password=ap\n; comment=no\n';
    assert.deepEqual(pairs('key-value', text), [
      'client/password=a b',
      'client/api_key=k1',
      'client/imap_pass=p',
      'client/reg_io_auth_token=t',
      'client/spring_mail_password=m',
      'client/ansible_host=10.0.0.1',
      'client/ansible_password=ap',
    ]);
  });

  it('PHP: define, array entries with env() defaults, assignments', () => {
    const text = "<?php\ndefine( 'DB_PASSWORD', 'd1' );\n'password' => env('DB_PASSWORD', 'd2'),\n'key' => \"k\",\n$db_pass = 'd3';\n";
    assert.deepEqual(pairs('php', text), ['db_password=d1', 'password=d2', 'key=k', 'db_pass=d3']);
  });

  it('does not parse what it cannot: broken JSON is read as lines, and hostile input stays fast', () => {
    assert.deepEqual(pairs('json', '{"password": "x",\n"user": [}\n'), ['password=x', 'user=[}']);
    const huge = 1024 * 1024;
    for (const [format, text] of [
      ['xml', '<a b="'.repeat(huge / 6)],
      ['xml', ('<a' + ' b="1"'.repeat(50)).repeat(huge / 310)],
      ['php', "define('A', '".repeat(huge / 13)],
      ['key-value', 'h a=1 '.repeat(huge / 6)],
      ['json', '/*'.repeat(huge / 2)],
      ['yaml', '['.repeat(huge)],
      ['json', '['.repeat(huge / 2) + '1,'.repeat(huge / 4)],
      ['json', '"'.repeat(huge)],
    ] as Array<[StructuredFormat, string]>) {
      const t = performance.now();
      parseStructured(format, text);
      assert.ok(performance.now() - t < 3000, `${format} took ${Math.round(performance.now() - t)} ms`);
    }
  });
});
