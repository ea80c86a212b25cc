import type { EvaluatePolicyResponse, PolicyRuleList } from '@niro/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp, type TestUser } from '../../test-support/app.js';
import { describeEachDatabase } from '../../test-support/databases.js';

const PRIVILEGED = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels: { app: api }
  template:
    metadata:
      labels: { app: api }
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:latest
          securityContext:
            privileged: true
`;

const BILLION_LAUGHS = `
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`;

describeEachDatabase('policy API', (dialect) => {
  let t: TestApp;
  let user: TestUser;

  beforeAll(async () => {
    t = await createTestApp(dialect);
    user = await createUserWithToken(t.services, { role: 'viewer' });
  });

  afterAll(async () => {
    await t.dispose();
  });

  const evaluate = (payload: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/api/v1/policy/evaluate', headers: bearer(user.token), payload });

  it('lists the rule catalogue with severities per environment, staging derived', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/policy/rules', headers: bearer(user.token) });
    expect(res.statusCode).toBe(200);
    const { items } = res.json<PolicyRuleList>();
    const byId = new Map(items.map((r) => [r.id, r]));
    expect(byId.get('privileged-container')).toMatchObject({
      category: 'security',
      severity: { nonProduction: 'high', staging: 'high', production: 'high' },
    });
    expect(byId.get('mutable-image-tag')).toMatchObject({
      category: 'images',
      severity: { nonProduction: 'low', staging: 'medium', production: 'high' },
      needs: [],
    });
    for (const r of items) {
      expect(r.title.length, r.id).toBeGreaterThan(0);
      expect(r.description.length, r.id).toBeGreaterThan(0);
      expect(r.fix.length, r.id).toBeGreaterThan(0);
    }
    const anonymous = await t.app.inject({ method: 'GET', url: '/api/v1/policy/rules' });
    expect(anonymous.statusCode).toBe(401);
  });

  it('evaluates a failing manifest: privileged is high everywhere, :latest is rated by environment', async () => {
    const severities = async (environment: string): Promise<Record<string, string | undefined>> => {
      const res = await evaluate({ yaml: PRIVILEGED, environment });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<EvaluatePolicyResponse>();
      expect(body.errors).toEqual([]);
      const find = (id: string) => body.findings.find((f) => f.ruleId === id);
      expect(find('privileged-container')).toMatchObject({
        object: { kind: 'Deployment', namespace: 'shop', name: 'api' },
        container: 'api',
        path: expect.stringContaining('spec.template.spec.containers[0]'),
        fix: expect.any(String),
      });
      return { privileged: find('privileged-container')?.severity, image: find('mutable-image-tag')?.severity };
    };
    expect(await severities('production')).toEqual({ privileged: 'high', image: 'high' });
    expect(await severities('staging')).toEqual({ privileged: 'high', image: 'medium' });
    expect(await severities('dev')).toEqual({ privileged: 'high', image: 'low' });
    // Without an environment: unspecified, rated as non-production.
    const res = await evaluate({ yaml: PRIVILEGED });
    expect(res.json<EvaluatePolicyResponse>().findings.find((f) => f.ruleId === 'mutable-image-tag')?.severity).toBe(
      'low',
    );
  });

  it('refuses a bad environment with 400 naming the field', async () => {
    const res = await evaluate({ yaml: PRIVILEGED, environment: 'prod' });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: { code: string; details: { fields: { field: string }[] } } }>();
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.details.fields.map((f) => f.field)).toContain('body.environment');
    const missing = await evaluate({ environment: 'dev' });
    expect(missing.statusCode).toBe(400);
    expect(missing.body).toContain('body.yaml');
  });

  it('reports unreadable documents as errors beside the findings of the others (200)', async () => {
    const res = await evaluate({ yaml: `${PRIVILEGED}\n---\nkind: [unclosed\n`, environment: 'production' });
    expect(res.statusCode).toBe(200);
    const body = res.json<EvaluatePolicyResponse>();
    expect(body.findings.some((f) => f.ruleId === 'privileged-container')).toBe(true);
    expect(body.errors.length).toBeGreaterThan(0);
    expect(body.errors[0]?.document).toBe(2);
  });

  it('answers a YAML bomb with an error, not a 500', async () => {
    const started = performance.now();
    const res = await evaluate({ yaml: BILLION_LAUGHS, environment: 'production' });
    // eslint-disable-next-line no-console -- a figure the issue asks for, printed rather than asserted
    console.log(`[${dialect}] billion laughs answered in ${(performance.now() - started).toFixed(0)} ms`);
    expect(res.statusCode).toBe(200);
    const body = res.json<EvaluatePolicyResponse>();
    expect(body.findings).toEqual([]);
    expect(body.errors.length).toBeGreaterThan(0);
  });

  it('refuses manifests above 2 MiB with 413', async () => {
    const doc = `${PRIVILEGED}---\n`;
    const big = doc.repeat(Math.ceil((2 * 1024 * 1024 + 1) / doc.length));
    const res = await evaluate({ yaml: big, environment: 'dev' });
    expect(res.statusCode).toBe(413);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('manifest_too_large');
    // Far above: refused before the body is parsed.
    const huge = await evaluate({ yaml: big.repeat(3), environment: 'dev' });
    expect(huge.statusCode).toBe(413);
    // Just below the limit: evaluated.
    const under = doc.repeat(Math.floor((2 * 1024 * 1024) / doc.length));
    const started = performance.now();
    const ok = await evaluate({ yaml: under, environment: 'dev' });
    const body = ok.json<EvaluatePolicyResponse>();
    // eslint-disable-next-line no-console -- a figure the issue asks for, printed rather than asserted
    console.log(
      `[${dialect}] ${(under.length / 1024 / 1024).toFixed(2)} MiB of manifests (${Math.floor(under.length / doc.length)} Deployments): ` +
        `${body.findings.length} findings in ${(performance.now() - started).toFixed(0)} ms`,
    );
    expect(ok.statusCode).toBe(200);
  });

  it('needs a signed-in caller to evaluate', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/policy/evaluate', payload: { yaml: PRIVILEGED } });
    expect(res.statusCode).toBe(401);
  });
});
