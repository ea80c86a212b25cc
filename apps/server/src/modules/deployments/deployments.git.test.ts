import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Deployment, DeploymentRevision, LongPollReply } from '@niro/protocol';
import { DEFAULT_CAPABILITIES, buildFullHeartbeat, generateClusterInventory } from '@niro/testkit';
import { createRepo, createSelfSignedCert, startGitServer, type GitServer } from '@niro/testkit/git-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test-support/app.js';
import { enrollTestCluster, type EnrolledTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { sendHeartbeat } from '../../test-support/heartbeats.js';
import { fetchGitSource, resolveGitRef } from '../git-source/git-source.js';

/** Git-sourced deployments against a real `git http-backend` over HTTPS on loopback. */
const SECRET_KEY = randomBytes(32).toString('base64');
const USERNAME = 'deploy-bot';
const PASSWORD = 'git-t0ken-that-must-not-leak';
const configMap = (mode: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: ${mode}\n`;

describeEachDatabase('deployments from Git', (dialect) => {
  let t: TestApp;
  let base: string;
  let server: GitServer;
  let c: EnrolledTestCluster;

  beforeAll(async () => {
    const tls = await createSelfSignedCert();
    base = await mkdtemp(join(tmpdir(), 'niro-deploy-git-'));
    server = await startGitServer({ root: base, tls, auth: { username: USERNAME, password: PASSWORD } });
    t = await createTestApp(
      dialect,
      { NIRO_SECRET_KEY: SECRET_KEY },
      {
        deployments: {
          git: (source) => fetchGitSource(source, { env: { GIT_SSL_CAINFO: tls.caFile }, timeoutMs: 20_000 }),
          gitHead: (source) => resolveGitRef(source, { env: { GIT_SSL_CAINFO: tls.caFile } }),
        },
      },
    );
    c = await enrollTestCluster(t);
    const inventory = generateClusterInventory({ nodes: 1, pods: 0, seed: 'git' });
    await sendHeartbeat(
      t,
      c.agentKey,
      buildFullHeartbeat(inventory, {
        seq: 1,
        now: t.clock.now(),
        capabilities: { ...DEFAULT_CAPABILITIES, apply: true },
      }),
    );
  });
  afterAll(async () => {
    await t?.dispose();
    await server?.stop();
    if (base !== undefined) await rm(base, { recursive: true, force: true });
  });

  const api = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: bearer(c.owner.token),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  async function nextApply(): Promise<LongPollReply['commands'][number]> {
    const res = await t.app.inject({ method: 'GET', url: '/api/agent/v1/commands', headers: bearer(c.agentKey) });
    const [command] = res.json<LongPollReply>().commands;
    if (command === undefined) throw new Error('no command');
    await t.app.inject({
      method: 'POST',
      url: `/api/agent/v1/commands/${command.id}/result`,
      headers: bearer(c.agentKey),
      payload: { status: 'succeeded', result: { objects: [] } },
    });
    return command;
  }

  it('applies the manifests of a ref and path, records the commit, and fetches again on apply', async () => {
    const repo = join(base, 'shop.git');
    const first = await createRepo(repo, { 'deploy/settings.yaml': configMap('fast'), 'README.md': '# shop\n' });
    const created = await api('POST', '/api/v1/deployments', {
      name: 'settings',
      clusterId: c.clusterId,
      namespace: 'shop',
      source: {
        type: 'git',
        url: server.repoUrl('shop.git'),
        ref: 'main',
        path: 'deploy',
        credential: { username: USERNAME, password: PASSWORD },
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const d = created.json<Deployment>();
    expect(d.source).toEqual({
      type: 'git',
      url: server.repoUrl('shop.git'),
      ref: 'main',
      path: 'deploy',
      hasCredential: true,
    });
    expect(created.body).not.toContain(PASSWORD);
    const apply = await nextApply();
    expect(apply.payload).toMatchObject({ manifests: configMap('fast'), deploymentId: d.id });
    const rev1 = (await api('GET', `/api/v1/deployments/${d.id}/revisions/1`)).json<DeploymentRevision>();
    expect(rev1.source).toEqual({
      type: 'git',
      url: server.repoUrl('shop.git'),
      ref: 'main',
      path: 'deploy',
      commit: first.commit,
      rendered: 'plain',
    });
    // The credential is sealed at rest.
    const stored = await t.services.database.db
      .selectFrom('deployments')
      .selectAll()
      .where('id', '=', d.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toContain(PASSWORD);
    expect(stored.git_credential).toMatch(/^v1\./);

    // A new commit becomes revision 2 on the next apply.
    const second = await createRepo(repo, { 'deploy/settings.yaml': configMap('safe') });
    const again = await api('POST', `/api/v1/deployments/${d.id}/apply`, {});
    expect(again.statusCode, again.body).toBe(202);
    expect((await nextApply()).payload).toMatchObject({ manifests: configMap('safe'), revision: 2 });
    const rev2 = (await api('GET', `/api/v1/deployments/${d.id}/revisions/2`)).json<DeploymentRevision>();
    expect(rev2.source).toMatchObject({ commit: second.commit });
    expect(t.logs.join('\n')).not.toContain(PASSWORD);

    // Tracking: nothing new, nothing applied; a new commit on the ref becomes revision 3, with the
    // authority of whoever applied revision 2.
    expect(await t.services.deployments.trackGitSources()).toBe(0);
    const third = await createRepo(repo, { 'deploy/settings.yaml': configMap('tracked') });
    expect(await t.services.deployments.trackGitSources()).toBe(1);
    expect((await nextApply()).payload).toMatchObject({ manifests: configMap('tracked'), revision: 3 });
    const rev3 = (await api('GET', `/api/v1/deployments/${d.id}/revisions/3`)).json<DeploymentRevision>();
    expect(rev3).toMatchObject({
      source: { commit: third.commit },
      message: `New commit ${third.commit.slice(0, 12)} on main`,
      createdBy: 'Git tracking',
    });
    expect(await t.services.deployments.trackGitSources()).toBe(0);
  });

  it('refuses hostile locations and repositories with a clear error, storing nothing', async () => {
    const repo = join(base, 'hostile.git');
    await createRepo(repo, {
      'deploy/ok.yaml': configMap('ok'),
      'deploy/passwd.yaml': { symlink: '/etc/passwd' },
    });
    const attempt = async (source: Record<string, unknown>, status: number, code: string) => {
      const res = await api('POST', '/api/v1/deployments', {
        name: 'hostile',
        clusterId: c.clusterId,
        namespace: 'shop',
        source: { type: 'git', credential: { username: USERNAME, password: PASSWORD }, ...source },
      });
      expect(res.statusCode, res.body).toBe(status);
      expect(res.json<{ error: { code: string } }>().error.code).toBe(code);
      expect(res.body).not.toContain(PASSWORD);
      expect(res.body).not.toContain('root:x:0');
    };
    const url = server.repoUrl('hostile.git');
    await attempt({ url: url.replace('https://', 'http://'), ref: 'main', path: 'deploy' }, 400, 'git_url_not_https');
    await attempt({ url, ref: '--upload-pack=touch /tmp/niro-pwned', path: 'deploy' }, 400, 'git_ref_invalid');
    await attempt({ url, ref: 'main', path: '../../etc' }, 400, 'git_path_outside_repo');
    await attempt({ url, ref: 'main', path: 'deploy' }, 422, 'git_symlink_outside_repo');
    const rows = await t.services.database.db
      .selectFrom('deployments')
      .select('id')
      .where('name', '=', 'hostile')
      .execute();
    expect(rows).toEqual([]);
  });
});
