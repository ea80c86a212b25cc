import { Writable } from 'node:stream';
import { evaluateYaml } from '@niro/policy';
import { afterEach, describe, expect, it } from 'vitest';
import { NiroError } from '../../errors.js';
import { createLogger } from '../../logger.js';
import { PolicyEvaluator } from './policy-evaluator.js';

const logger = createLogger('warn', new Writable({ write: (_chunk, _enc, cb) => cb() }));

function deployment(i: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: app-${i}, namespace: team-${i % 5}}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-${i}}}
  template:
    metadata: {labels: {app: app-${i}}}
    spec:
      containers:
      - name: web
        image: ghcr.io/acme/app-${i}:latest
        env: [{name: DB_PASSWORD, value: hunter${i}}]
`;
}

/** About `bytes` of manifests, a Deployment per document. */
function manifests(bytes: number): string {
  const docs: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes && docs.length < 490; i++) {
    const doc = deployment(i);
    docs.push(doc);
    size += doc.length + 4;
  }
  return docs.join('---\n');
}

describe('PolicyEvaluator', () => {
  let evaluator: PolicyEvaluator | undefined;
  afterEach(async () => {
    await evaluator?.close();
    evaluator = undefined;
  });

  it('gives the same findings in its worker thread as on the calling thread', async () => {
    evaluator = new PolicyEvaluator(logger, { inlineBelow: 0 });
    const yaml = `${manifests(20_000)}---\nkind: [broken\n`;
    const inThread = evaluateYaml(yaml, { environment: 'production' });
    const viaWorker = await evaluator.evaluate({ yaml, environment: 'production' });
    expect(viaWorker.findings.length).toBeGreaterThan(0);
    expect(viaWorker.errors.length).toBe(1);
    expect(viaWorker).toEqual(inThread);
  });

  it('applies suppressions in the worker', async () => {
    evaluator = new PolicyEvaluator(logger, { inlineBelow: 0 });
    const yaml = deployment(1);
    const object = { kind: 'Deployment', namespace: 'team-1', name: 'app-1' };
    const result = await evaluator.evaluate({
      yaml,
      environment: 'production',
      suppressions: [{ ruleId: 'secret-in-env', object, reason: 'test fixture' }],
    });
    const rules = result.findings.map((f) => f.ruleId);
    expect(rules).toContain('mutable-image-tag');
    expect(rules).not.toContain('secret-in-env');
  });

  it('keeps the event loop turning while large manifests are evaluated', async () => {
    evaluator = new PolicyEvaluator(logger);
    const yaml = manifests(1024 * 1024);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const result = await evaluator.evaluate({ yaml, environment: 'dev' });
      expect(result.errors).toEqual([]);
      expect(result.findings.length).toBeGreaterThan(400);
    } finally {
      clearInterval(timer);
    }
    // On the calling thread the evaluation would run to its end before any timer fires.
    expect(ticks).toBeGreaterThan(0);
  });

  it('refuses large evaluations beyond its queue with 429, and fails waiting ones on close', async () => {
    evaluator = new PolicyEvaluator(logger, { inlineBelow: 0, maxQueued: 1 });
    const yaml = manifests(10_000);
    const first = evaluator.evaluate({ yaml, environment: 'dev' });
    const second = evaluator.evaluate({ yaml, environment: 'dev' });
    const third = evaluator.evaluate({ yaml, environment: 'dev' });
    await expect(third).rejects.toMatchObject({ statusCode: 429, code: 'busy' });
    const closing = evaluator.close();
    await expect(first).rejects.toBeInstanceOf(NiroError);
    await expect(second).rejects.toMatchObject({ statusCode: 503 });
    await closing;
    await expect(evaluator.evaluate({ yaml, environment: 'dev' })).rejects.toMatchObject({ statusCode: 503 });
  });
});
