import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeploymentForm } from '@niro/protocol';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { Compile } from 'typebox/compile';
import { expect, it } from 'vitest';
import { buildManifests, DEFAULT_FORM } from './index.js';

const GOLDEN_DIR = join(fileURLToPath(new URL('.', import.meta.url)), 'golden');
const checkForm = Compile(DeploymentForm);

function goldenForms(): { name: string; form: DeploymentForm }[] {
  return readdirSync(GOLDEN_DIR)
    .filter((file) => file.endsWith('.form.json'))
    .sort()
    .map((file) => {
      const value: unknown = JSON.parse(readFileSync(join(GOLDEN_DIR, file), 'utf8'));
      if (!checkForm.Check(value)) throw new Error(`${file} does not match the DeploymentForm schema`);
      return { name: file.slice(0, -'.form.json'.length), form: value };
    });
}

describeWithKube('builder manifests on a real API server', (cluster) => {
  it('the API server accepts every golden form and the default form (kubectl apply --dry-run=server)', async () => {
    const namespace = 'builder-dry-run';
    await cluster().kubectl(['create', 'namespace', namespace]);
    const forms = [...goldenForms(), { name: 'default', form: DEFAULT_FORM }];
    for (const { name, form } of forms) {
      const { yaml, objects } = buildManifests(form, { namespace, imagePullSecretName: 'niro-registry-test' });
      const result = await cluster().kubectl(['apply', '--dry-run=server', '-f', '-'], {
        input: yaml,
        allowFailure: true,
      });
      expect(result.stderr, name).toBe('');
      expect(result.code, name).toBe(0);
      // One line per object: "deployment.apps/shop created (server dry run)".
      expect(result.stdout.trim().split('\n'), name).toHaveLength(objects.length);
    }
  });
});
