import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RULES, SEVERITIES, evaluateYaml, type Severity } from '@niro/policy';
import { describe, expect, it } from 'vitest';
import {
  COMPARISON_ENVIRONMENT,
  COMPARISON_FIXTURE_DIR,
  COMPARISON_MANIFESTS,
} from '../../../scripts/policy-comparison.js';
import { POLICY_DOCS_FILE, REPO_ROOT, renderPolicyDocs } from '../../../scripts/policy-docs.js';

describe('docs/policy.md', () => {
  it('is what `npm run docs:policy` generates from the rule catalogue', async () => {
    const current = await readFile(POLICY_DOCS_FILE, 'utf8').catch(() => '');
    const generated = await renderPolicyDocs();
    expect(
      current === generated,
      'docs/policy.md is out of date with the rule catalogue: run `npm run docs:policy` and commit the result',
    ).toBe(true);
    for (const rule of RULES) expect(generated).toContain(`### \`${rule.id}\``);
  });
});

describe('the comparison with Polaris, kube-score and kube-linter', () => {
  for (const manifest of COMPARISON_MANIFESTS) {
    it(`lists what the engine reports for ${manifest.fixture}`, async () => {
      const text = await readFile(path.join(REPO_ROOT, COMPARISON_FIXTURE_DIR, manifest.fixture), 'utf8');
      const { findings, errors } = evaluateYaml(text, { environment: COMPARISON_ENVIRONMENT });
      expect(errors).toEqual([]);
      // The highest severity per rule and object, as the table lists them.
      const reported = new Map<string, Severity>();
      for (const f of findings) {
        const key = `${f.ruleId} ${f.object.kind} ${f.object.namespace === undefined ? '' : `${f.object.namespace}/`}${f.object.name}`;
        const before = reported.get(key);
        if (before === undefined || SEVERITIES.indexOf(f.severity) > SEVERITIES.indexOf(before)) {
          reported.set(key, f.severity);
        }
      }
      const listed = new Map<string, Severity>();
      for (const row of manifest.rows) {
        if (row.rule === undefined) continue;
        expect(
          RULES.some((r) => r.id === row.rule),
          `${row.rule} is not a rule`,
        ).toBe(true);
        for (const object of row.objects) {
          const key = `${row.rule} ${object}`;
          if (row.niro !== null) listed.set(key, row.niro);
          else expect(reported.has(key), `${key} is reported`).toBe(false);
        }
      }
      expect(
        Object.fromEntries(listed),
        `the Niro column of ${manifest.fixture} in scripts/policy-comparison.ts differs from the engine; update it and run \`npm run docs:policy\``,
      ).toEqual(Object.fromEntries(reported));
    });
  }
});
