import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Detector } from './engine.js';
import { getDefaultDetector } from './load.js';
import { expandSample } from './samples.js';
import { KeywordPrefilter, serializeAutomaton } from './prefilter.js';
import type { RuleSpec } from './types.js';

const rule = (over: Partial<RuleSpec>): RuleSpec => ({
  id: 'test-rule',
  title: 'test rule',
  severity: 'high',
  keywords: ['tok_'],
  pattern: '(?<secret>tok_[A-Za-z0-9]{16})',
  samples: { match: ['x'], noMatch: ['y'] },
  ...over,
});

/** Each occurrence as [keyword, offset of its last character]. */
function occurrences(p: KeywordPrefilter, text: string): Array<[string, number]> {
  const { states, ends, count } = p.occurrences(text);
  const out: Array<[string, number]> = [];
  for (let i = 0; i < count; i++) for (const k of p.keywordsAt(states[i]!)) out.push([p.keywords[k]!, ends[i]!]);
  return out;
}

describe('keyword prefilter', () => {
  it('finds every keyword occurrence, case-insensitively, and overlapping ones', () => {
    const p = new KeywordPrefilter(['he', 'she', 'hers', 'sk-ant-']);
    const found = occurrences(p, 'uSHErs and SK-ANT-x he').sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
    assert.deepEqual(found, [
      ['he', 3],
      ['she', 3],
      ['hers', 5],
      ['sk-ant-', 17],
      ['he', 21],
    ]);
  });
  it('reports nothing on clean text', () => {
    const p = new KeywordPrefilter(['ghp_']);
    assert.deepEqual(occurrences(p, 'a perfectly ordinary log line with gh and p_'), []);
  });
  for (const webAssembly of [true, false])
    it(`finds exactly what a plain search finds, in order, in long texts cut into parts and keywords across the cuts (${webAssembly ? 'WebAssembly' : 'JavaScript'} walk)`, () => {
      const keywords = ['ab', 'abc', 'bca', 'sk-ant-', 'xyzzy-long-keyword', 'c'];
      const p = new KeywordPrefilter(keywords, { webAssembly });
      const alphabet = 'abcsk-ANTXYZy lonGwrd';
      for (let seed = 1; seed <= 40; seed++) {
        const length = [5000, 4096, 4099, 9001, 20000][seed % 5]!;
        let text = '';
        for (let i = 0, x = seed; i < length; i++, x = (x * 1103515245 + 12345) & 0x7fffffff) text += alphabet[x % alphabet.length];
        // Plant keywords across each place the text is cut in four.
        const quarter = length >> 2;
        for (const cut of [quarter, 2 * quarter, 3 * quarter]) text = text.slice(0, cut - 5) + 'XYZZY-LONG-KEYWORD' + text.slice(cut + 13);
        const expected: Array<[string, number]> = [];
        const lower = text.toLowerCase();
        for (let end = 0; end < text.length; end++)
          for (const k of keywords) if (lower.startsWith(k, end - k.length + 1) && end - k.length + 1 >= 0) expected.push([k, end]);
        const order = (a: [string, number], b: [string, number]) => a[1] - b[1] || a[0].localeCompare(b[0]);
        const found = occurrences(p, text);
        assert.deepEqual([...found].sort(order), expected.sort(order), `seed ${seed}`);
        assert.ok(
          found.every((h, i) => i === 0 || found[i - 1]![1] <= h[1]),
          'occurrences come in text order',
        );
      }
    });
  it('finds the same from tables serialized at build time, and builds its own for other keywords or ids', () => {
    const keywords = ['ab', 'abc', 'bca', 'sk-ant-', 'c', 'zz'];
    const ids = [7, 3, 11, 0, 5, 2];
    const built = new KeywordPrefilter(keywords, { ids });
    const cached = new KeywordPrefilter(keywords, { ids, cached: serializeAutomaton(keywords, ids) });
    const hits = (p: KeywordPrefilter, text: string) => {
      const { states, ends, count } = p.occurrences(text);
      return Array.from({ length: count }, (_, i) => [ends[i], ...p.keywordsAt(states[i]!)]);
    };
    const alphabet = 'abcsk-ANTz';
    for (let seed = 1; seed <= 20; seed++) {
      let text = '';
      for (let i = 0, x = seed; i < 6000; i++, x = (x * 1103515245 + 12345) & 0x7fffffff) text += alphabet[x % alphabet.length];
      assert.deepEqual(hits(cached, text), hits(built, text), `seed ${seed}`);
    }
    // Tables of other keywords, or of the same keywords under other ids, are not used.
    const other = new KeywordPrefilter(['zz'], { cached: serializeAutomaton(['ab']) });
    assert.deepEqual(occurrences(other, 'ab zz'), [['zz', 4]]);
    const renumbered = new KeywordPrefilter(keywords, { ids: [1, 2, 3, 4, 5, 6], cached: serializeAutomaton(keywords, ids) });
    assert.deepEqual(hits(renumbered, 'zz'), [[1, 6]]);
    assert.deepEqual(occurrences(new KeywordPrefilter(['zz'], { cached: Buffer.from('not tables') }), 'ab zz'), [['zz', 4]]);
  });
  for (const webAssembly of [true, false])
    it(`finds keywords across the segments the automaton walks in texts over a megabyte, and none past the text (${webAssembly ? 'WebAssembly' : 'JavaScript'} walk)`, () => {
      const p = new KeywordPrefilter(['sk-ant-', 'ghp_'], { webAssembly });
      const mb = 1024 * 1024;
      let text = 'x'.repeat(2.5 * mb);
      const planted = [mb - 3, 2 * mb - 6, 2 * mb + 100];
      for (const at of planted) text = text.slice(0, at) + 'SK-ANT-' + text.slice(at + 7);
      assert.deepEqual(
        occurrences(p, text),
        planted.map((at) => ['sk-ant-', at + 6]),
      );
      assert.deepEqual(occurrences(p, 'sk-ant'), [], 'a longer text walked before leaves nothing behind');
    });
  it('grows its occurrence buffer for text dense with keywords', () => {
    const p = new KeywordPrefilter(['a']);
    assert.equal(occurrences(p, 'a'.repeat(5000)).length, 5000);
  });
});

describe('detector', () => {
  it('reports watched words from the same pass, and finds the same secrets as without them', () => {
    const specs = [rule({ pattern: 'key=(?<secret>tok_[A-Za-z0-9]{16})', keywords: ['key='] })];
    const watching = new Detector(specs, { watchWords: ['Key', 'session'] });
    const text = 'SESSION key=tok_ABCDEFGHabcd1234\n{"msg":"key=\\u0074ok_ABCDEFGHabcd1234 session"}';
    const watched: number[] = [];
    const found = watching.scan(text, watched);
    assert.deepEqual(found, new Detector(specs).scan(text));
    const words = ['Key', 'session'];
    assert.deepEqual(
      Array.from({ length: watched.length / 2 }, (_, i) => [
        text.slice(watched[2 * i]! + 1 - words[watched[2 * i + 1]!]!.length, watched[2 * i]! + 1),
        watched[2 * i + 1],
      ]),
      [
        ['SESSION', 1],
        ['key', 0],
        ['key', 0],
        ['session', 1],
      ],
    );
    assert.ok(watching.watches(words) && !watching.watches(['key']));
  });

  it('reports the secret group span, not the whole match', () => {
    const d = new Detector([rule({ pattern: 'key=(?<secret>tok_[A-Za-z0-9]{16})', keywords: ['key='] })]);
    const text = 'a key=tok_ABCDEFGHabcdefgh b';
    const [m] = d.scan(text);
    assert.equal(text.slice(m!.start, m!.end), 'tok_ABCDEFGHabcdefgh');
  });
  it('finds secrets inside escaped JSON and maps the span back to raw text', () => {
    const d = new Detector([rule({ pattern: '"api_key": ?"(?<secret>[A-Za-z0-9]{16})"', keywords: ['api_key'] })]);
    const text = '{"msg":"{\\"api_key\\": \\"ABCDEFGHabcd1234\\"}"}';
    const [m] = d.scan(text);
    assert.ok(m);
    assert.equal(text.slice(m.start, m.end), 'ABCDEFGHabcd1234');
  });
  it('decodes a window whose keyword only its escaped or encoded form shows', () => {
    // The keyword holds a quote: raw text writes it `key\"`, `key\u0022` or `key%22`.
    const d = new Detector([rule({ keywords: ['key"'], pattern: 'key":"(?<secret>tok_[A-Za-z0-9]{16})' })]);
    for (const escaped of ['key\\":\\"', 'key\\u0022:\\u0022', 'key%22:%22']) {
      const text = `{"log":"{\\"${escaped}tok_ABCDEFGHabcd1234\\"}"}`;
      const [m] = d.scan(text);
      assert.equal(m && text.slice(m.start, m.end), 'tok_ABCDEFGHabcd1234', escaped);
    }
    // A keyword with more escapable characters than spellings are kept for: its escapes are always decoded.
    const slashes = new Detector([rule({ keywords: ['a/b/c/d/e'], pattern: 'a/b/c/d/e=(?<secret>tok_[A-Za-z0-9]{16})' })]);
    const text = 'url: a\\/b\\/c\\/d\\/e=tok_ABCDEFGHabcd1234';
    assert.equal(slashes.scan(text)[0]?.secret, 'tok_ABCDEFGHabcd1234');
  });
  it('drops masks and templates, and keeps low-entropy values at low confidence (fail closed)', () => {
    const d = new Detector([rule({ minEntropy: 3 })]);
    const hits = d.scan('tok_xxxxxxxxxxxxxxxx tok_aaaaaaaaaaaaaaab');
    assert.deepEqual(
      hits.map((h) => [h.secret, h.confidence, h.reason]),
      [['tok_aaaaaaaaaaaaaaab', 'low', 'low entropy']],
    );
  });
  it('rates a match by its checks: a checksum that verifies is high, one that does not is low, never dropped', () => {
    const d = new Detector([rule({ pattern: '(?<secret>ghp_[A-Za-z0-9]{36})', keywords: ['ghp_'], validators: ['github-crc32'] })]);
    const good = expandSample('ghp_{alnum:30}{crc32b62:6}');
    const bad = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
    assert.deepEqual(
      d.scan(`${good} ${bad}`).map((h) => [h.confidence, h.reason]),
      [
        ['high', 'checksum verifies'],
        ['low', 'checksum does not verify'],
      ],
    );
  });
  it('rates a generic rule medium, a provider rule high, and a weak value low', () => {
    const generic = rule({ id: 'generic-pw', generic: true, keywords: ['pw='], pattern: 'pw=(?<secret>\\S+)', weak: { regexes: ['^admin$'] } });
    const d = new Detector([generic, rule({})]);
    assert.deepEqual(
      d.scan('pw=Zq8vLm2Rt tok_ABCDEFGHabcd1234 pw=admin').map((h) => [h.ruleId, h.confidence]),
      [
        ['generic-pw', 'medium'],
        ['test-rule', 'high'],
        ['generic-pw', 'low'],
      ],
    );
  });
  it('keeps the surer of two provider matches on the same bytes, whatever the rule order', () => {
    const unsure = rule({ id: 'unsure', confidence: 'low' });
    const sure = rule({ id: 'sure' });
    for (const rules of [
      [unsure, sure],
      [sure, unsure],
    ]) {
      assert.deepEqual(
        new Detector(rules).scan('tok_ABCDEFGHabcd1234').map((h) => h.ruleId),
        ['sure'],
      );
    }
  });
  it('rates a vendor format high with its context and medium without', () => {
    const d = new Detector([rule({ keywords: ['SK'], caseSensitiveKeywords: true, pattern: '(?:(?<context>twilio)[^\\n]{0,20}?)?(?<secret>SK[0-9a-f]{8})' })]);
    assert.deepEqual(
      d.scan('twilio sid=SK0123abcd\nSK4567cdef').map((h) => [h.secret, h.confidence]),
      [
        ['SK0123abcd', 'high'],
        ['SK4567cdef', 'medium'],
      ],
    );
  });
  it('drops a documentation value followed by a documentation host, and keeps it anywhere else', () => {
    const d = new Detector([
      rule({
        keywords: ['://'],
        pattern: '://[a-z]*:(?<secret>[^@]+)@',
        weak: { examples: ['^guest$'], regexes: ['^[a-z]+[0-9]{0,4}$'], exampleIfFollowedBy: '@localhost' },
      }),
    ]);
    assert.deepEqual(d.scan('amqp://guest:guest@localhost:5672/'), []);
    assert.deepEqual(
      d.scan('amqp://guest:guest@rabbitmq:5672/').map((h) => h.confidence),
      ['low'],
    );
    // A password someone chose is no documentation value, whatever host follows it (fail closed).
    assert.deepEqual(
      d.scan('redis://:acme1504@localhost:6379/0').map((h) => [h.secret, h.confidence]),
      [['acme1504', 'low']],
    );
  });
  it('keeps only explicit templates out: ${VAR}, $VAR, {{ }}, <…>, %s, ***, [REDACTED…], empty values and references', () => {
    const d = new Detector([rule({ id: 'any', generic: true, keywords: ['pw='], pattern: 'pw=(?<secret>\\S*)' })]);
    for (const template of [
      '${DB_PASSWORD}',
      '$DB_PASSWORD',
      '{{.Values.pw}}',
      '<password>',
      '%s',
      '%(pw)s',
      '****',
      '[REDACTED:x]',
      'process.env.PW',
      'op://vault/db/password',
      'arn:aws:secretsmanager:eu-west-1:1:secret:db',
    ]) {
      assert.deepEqual(d.scan(`pw=${template}`), [], template);
    }
    for (const weak of ['dummy-pass-2291', 'example123', 'aaaaaaaa', 'hunter2']) assert.equal(d.scan(`pw=${weak}`).length, 1, weak);
  });
  it('takes no flag, stray JSON syntax or secret-manager name for a value, and still finds the password beside them', () => {
    const d = getDefaultDetector();
    for (const line of [
      '+ psql --password -U app',
      '{"level":"warn","msg":"+ mysql -u root -p","request_id":"req_1"}',
      '{"msg":"+ redis-cli -a \\"${REDIS_PASSWORD}\\" ping"}',
      'fetching arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/openai-AbC123',
      "RDS_PASSWORD:='%(password)s'",
      'api_key:="$DB_PASSWORD"',
    ]) {
      assert.deepEqual(
        d.scan(line).map((m) => m.secret),
        [],
        line,
      );
    }
    assert.deepEqual(
      d.scan('+ mongosh --password hunter2 --host db').map((m) => m.secret),
      ['hunter2'],
    );
    assert.deepEqual(
      d.scan('{"msg":"+ mysql -u root -phunter2","id":1}').map((m) => m.secret),
      ['hunter2'],
    );
    assert.deepEqual(
      d.scan('secret: prod-db-password-9f1c2b7e1d').map((m) => m.secret),
      ['prod-db-password-9f1c2b7e1d'],
    );
  });
  it('prefers a provider rule over a generic one on the same bytes', () => {
    const d = new Detector([
      rule({ id: 'generic-thing', generic: true, pattern: 'secret=(?<secret>\\S+)', keywords: ['secret='] }),
      rule({ id: 'provider-thing' }),
    ]);
    const hits = d.scan('secret=tok_ABCDEFGHabcdefgh');
    assert.deepEqual(
      hits.map((h) => h.ruleId),
      ['provider-thing'],
    );
  });
  it('matches keywords only as written when a rule asks for it', () => {
    const exact = rule({ keywords: ['TK'], caseSensitiveKeywords: true, pattern: '(?<secret>TK[0-9]{12})' });
    const d = new Detector([exact, rule({ id: 'other', keywords: ['tk'], pattern: '(?<secret>tk-[a-z]{12}x)' })]);
    assert.deepEqual(
      d.scan('tk-qzmwhrtvbnpdx stack TK482910583627').map((m) => m.ruleId),
      ['other', 'test-rule'],
    );
    // A keyword in the wrong case does not start the rule, even where its pattern would match.
    const lower = new Detector([rule({ keywords: ['TK'], caseSensitiveKeywords: true, pattern: '(?<secret>tk_[0-9]{12})' })]);
    assert.deepEqual(lower.scan('tk_482910583627'), []);
    assert.equal(lower.scan('TK tk_482910583627').length, 1);
    // Written only once an escape is decoded, and in the rule's case only there.
    assert.deepEqual(
      d.scan('{"m":"\\u0054K482910583627"}').map((m) => m.secret),
      ['TK482910583627'],
    );
    assert.deepEqual(d.scan('{"m":"\\u0074k482910583627 TKx"}'), []);
    assert.throws(() => new Detector([{ ...exact, caseInsensitive: true }]), /caseSensitiveKeywords needs a case-sensitive pattern/);
  });
  it('rejects unknown validators and duplicate ids with clear errors', () => {
    assert.throws(() => new Detector([rule({ validators: ['nope'] })]), /unknown validator "nope"/);
    assert.throws(() => new Detector([rule({}), rule({})]), /duplicate rule id test-rule/);
  });
  it('ships at least 150 rules that load into one detector', () => {
    assert.ok(getDefaultDetector().rules.length >= 150, `only ${getDefaultDetector().rules.length} rules`);
  });
  it('expands sample templates deterministically', () => {
    assert.equal(expandSample('ghp_{alnum:30}{crc32b62:6}'), expandSample('ghp_{alnum:30}{crc32b62:6}'));
    assert.match(expandSample('ghp_{alnum:30}{crc32b62:6}'), /^ghp_[A-Za-z0-9]{36}$/);
  });
});

describe('detector decoding', () => {
  it('finds a secret that is percent-encoded in a URL and maps the span back', () => {
    const d = new Detector([rule({ pattern: '(?<![A-Za-z0-9])(?<secret>tok_[A-Za-z0-9]{16})', keywords: ['tok_'] })]);
    const text = 'GET /cb?state=1&next=%2Fapi%3Fkey%3Dtok_ABCDEFGHabcd1234%26x%3D1 HTTP/1.1';
    const [m] = d.scan(text);
    assert.ok(m);
    assert.equal(text.slice(m.start, m.end), 'tok_ABCDEFGHabcd1234');
  });
});

describe('escape windows', () => {
  it('finds a secret cut by the end of a decoded window whole', () => {
    const d = new Detector([rule({ pattern: '(?<![a-z])auth: (?<secret>tok_[A-Za-z0-9]{16,2000})', keywords: ['auth: '] })]);
    const token = 'tok_' + 'Ab3'.repeat(300);
    const text = `{"msg":"line one\\nauth: ${token}"}`;
    const [m] = d.scan(text);
    assert.ok(m);
    assert.equal(text.slice(m.start, m.end), token);
  });
  it('scans escapes far apart on one line in separate windows', () => {
    const d = new Detector([rule({ pattern: '(?<![a-z])auth: (?<secret>tok_[A-Za-z0-9]{16})', keywords: ['auth: '] })]);
    const a = 'tok_' + 'A1b2'.repeat(4);
    const b = 'tok_' + 'C3d4'.repeat(4);
    const text = `{"m":"x\\nauth: ${a} ${'filler '.repeat(200)}\\nauth: ${b}"}`;
    assert.deepEqual(
      d.scan(text).map((m) => text.slice(m.start, m.end)),
      [a, b],
    );
  });
});
