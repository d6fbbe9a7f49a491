import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { INCIDENT_KINDS, loadPlaybooks, parsePlaybook, PLAYBOOKS_DIR, PlaybookError, toCacao } from './index.js';

describe('playbooks', () => {
  // Generic: every playbook file shipped, whatever its name, is checked against the schema and the extra rules.
  for (const name of readdirSync(PLAYBOOKS_DIR).filter((n) => n.endsWith('.yaml'))) {
    it(`${name} is a valid playbook named after its kind`, () => {
      const playbook = parsePlaybook(readFileSync(join(PLAYBOOKS_DIR, name), 'utf8'), name);
      assert.equal(`${playbook.kind}.yaml`, name);
      assert.ok(playbook.steps.every((s) => s.owner.length > 0));
    });
  }

  it('ships exactly one playbook per kind of the catalogue', () => {
    assert.deepEqual([...loadPlaybooks().keys()].sort(), [...INCIDENT_KINDS].sort());
  });

  it('refuses unknown fields, duplicate step ids and forward dependencies, naming the file', () => {
    const base = 'kind: leaked-api-key\nversion: 1\ntitle: t\ndescription: d\nseverity: high\natlas: [AML.T0055]\nsteps:\n';
    assert.throws(
      () => parsePlaybook(`${base}  - {id: aa, title: a, phase: containment, owner: o, colour: red}\n`, 'x.yaml'),
      (e: Error) => e instanceof PlaybookError && /x\.yaml/.test(e.message),
    );
    assert.throws(
      () => parsePlaybook(`${base}  - {id: aa, title: a, phase: containment, owner: o}\n  - {id: aa, title: b, phase: containment, owner: o}\n`, 'x.yaml'),
      /appears twice/,
    );
    assert.throws(
      () =>
        parsePlaybook(
          `${base}  - {id: aa, title: a, phase: containment, owner: o, depends_on: [bb]}\n  - {id: bb, title: b, phase: containment, owner: o}\n`,
          'x.yaml',
        ),
      /not an earlier step/,
    );
    assert.throws(() => parsePlaybook(base.replace('AML.T0055', 'T1552') + '  - {id: aa, title: a, phase: containment, owner: o}\n', 'x.yaml'), PlaybookError);
  });

  it('exports CACAO v2.0: one chain from start to end, every agent defined, automated steps as commands', () => {
    const at = new Date('2025-01-29T12:00:00Z');
    for (const playbook of loadPlaybooks().values()) {
      const doc = toCacao(playbook, at) as {
        spec_version: string;
        id: string;
        workflow_start: string;
        workflow: Record<string, Record<string, unknown>>;
        agent_definitions: Record<string, unknown>;
        created: string;
      };
      assert.equal(doc.spec_version, 'cacao-2.0');
      assert.match(doc.id, /^playbook--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(doc.created, '2025-01-29T12:00:00.000Z');
      const visited: string[] = [];
      let at2: string | undefined = doc.workflow_start;
      while (at2) {
        const step: Record<string, unknown> = doc.workflow[at2]!;
        assert.ok(step, `dangling step ${at2}`);
        visited.push(String(step.type));
        if (step.type === 'action') {
          assert.ok(doc.agent_definitions[String(step.agent)], 'agent defined');
          assert.ok((step.commands as unknown[]).length >= 1);
        }
        at2 = step.on_completion as string | undefined;
      }
      assert.deepEqual(visited, ['start', ...playbook.steps.map(() => 'action'), 'end']);
      assert.equal(Object.keys(doc.workflow).length, playbook.steps.length + 2);
      assert.deepEqual(toCacao(playbook, at), doc, 'the same version exports the same document');
    }
    const exposed = toCacao(loadPlaybooks().get('exposed-log-store')!, at) as {
      workflow: Record<string, { name?: string; commands?: Array<{ type: string; command: string }> }>;
    };
    const revoke = Object.values(exposed.workflow).find((s) => s.name === 'Revoke every exposed Warden key');
    assert.ok(revoke?.commands?.some((c) => c.type === 'bash' && c.command.includes('--revoke')));
  });
});
