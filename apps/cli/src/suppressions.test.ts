import path from 'node:path';
import type { Suppression } from '@niro/protocol';
import type { RunningServer } from '@niro/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNiro, type NiroRun } from './test-support/run-niro.js';
import { startCliTestServer, type CliTestServerWithToken } from './test-support/test-server.js';

const ADMIN = { email: 'cli-suppressions@example.test', password: 'correct horse battery staple' };
const CLUSTER = 'edge-sup';
const UUID = /^[0-9a-f-]{36}$/;

/** `niro suppress` and `niro suppressions` against a real server. */
describe('niro suppress / suppressions', () => {
  let testServer: CliTestServerWithToken;
  let dataDir: string;
  let server: RunningServer;
  let token: string;
  let clusterId: string;

  const niro = (args: string[]): Promise<NiroRun> =>
    runNiro(args, {
      configDir: path.join(dataDir, 'config'),
      cwd: dataDir,
      env: { NIRO_URL: server.url, NIRO_TOKEN: token },
    });

  beforeAll(async () => {
    testServer = await startCliTestServer({ prefix: 'niro-cli-suppressions-', admin: ADMIN, tokenName: 'sup' });
    ({ dataDir, server, token } = testServer);
    const { api } = testServer;
    clusterId = (await api.createCluster({ name: CLUSTER, environment: 'production' })).cluster.id;
  });

  afterAll(async () => {
    await testServer?.close();
  });

  it('suppresses on one cluster or the whole org, lists, refuses duplicates and deletes', async () => {
    const one = await niro([
      'suppress',
      'mutable-image-tag',
      'Deployment/shop/web',
      '--reason',
      'rebuilt nightly',
      '--cluster',
      CLUSTER,
      '--expires',
      '2099-01-01T00:00:00Z',
    ]);
    expect(one, one.stderr).toMatchObject({ code: 0 });
    const oneId = one.stdout.trim();
    expect(oneId).toMatch(UUID);
    expect(one.stderr).toContain(`Suppressed mutable-image-tag on Deployment/shop/web in ${CLUSTER} until 2099-01-01`);

    const all = await niro(['suppress', 'run-as-root', 'DaemonSet/monitoring/node-exporter', '--reason', 'needs host']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stderr).toContain('in every cluster of the organization');
    const allId = all.stdout.trim();

    const again = await niro(['suppress', 'run-as-root', 'DaemonSet/monitoring/node-exporter', '--reason', 'x']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('suppression_exists');

    const unknown = await niro(['suppress', 'no-such-rule', 'Deployment/shop/web', '--reason', 'x']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('body.ruleId');

    const badObject = await niro(['suppress', 'run-as-root', 'web', '--reason', 'x']);
    expect(badObject.code).toBe(2);
    expect(badObject.stderr).toContain('KIND/NAMESPACE/NAME');
    expect((await niro(['suppress', 'run-as-root', 'Deployment/shop/web'])).code).toBe(2);

    const listed = await niro(['suppressions', 'ls']);
    expect(listed.code, listed.stderr).toBe(0);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{3,}/)).toEqual(['ID', 'RULE', 'OBJECT', 'CLUSTER', 'EXPIRES', 'REASON']);
    expect(rows.map((r) => r.split(/\s{3,}/))).toEqual([
      [oneId, 'mutable-image-tag', 'Deployment/shop/web', CLUSTER, '2099-01-01T00:00:00.000Z', 'rebuilt nightly'],
      [allId, 'run-as-root', 'DaemonSet/monitoring/node-exporter', '(all)', '-', 'needs host'],
    ]);
    const json: Suppression[] = JSON.parse(
      (await niro(['suppressions', 'ls', '--cluster', clusterId, '-o', 'json'])).stdout,
    );
    expect(json.map((s) => s.id)).toEqual([oneId, allId]);

    const removed = await niro(['suppressions', 'rm', oneId]);
    expect(removed.code, removed.stderr).toBe(0);
    const after: Suppression[] = JSON.parse((await niro(['suppressions', 'ls', '-o', 'json'])).stdout);
    expect(after.map((s) => s.id)).toEqual([allId]);
    const missing = await niro(['suppressions', 'rm', oneId]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not_found');
  });
});
