import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AGENT_INSTALL_LABEL,
  AGENT_INSTALL_LABEL_VALUE,
  AGENT_KEY_SECRET,
  AGENT_NAME,
  AGENT_NAMESPACE,
  AGENT_TOKEN_SECRET,
  CAPABILITY_GRANTS,
  CAPABILITY_NAMES,
  type AccessProbe,
  type CapabilityName,
} from '@niro/protocol';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test-support/app.js';

/**
 * The installer as a user runs it (`curl -fsSL …/install.sh | NIRO_TOKEN=… sh`) against a real
 * API server with RBAC, then the agent's rights checked the way the agent itself checks them:
 * SelfSubjectAccessReviews made with the agent ServiceAccount's own token.
 */
const PUBLIC_URL = 'https://niro.example.test';
const TOKEN = 'niro_et_kube-install-test-token-value';
const LABEL = `${AGENT_INSTALL_LABEL}=${AGENT_INSTALL_LABEL_VALUE}`;

type Item = Record<string, unknown>;
const isRecord = (v: unknown): v is Item => typeof v === 'object' && v !== null && !Array.isArray(v);
function field(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const k of path)
    current =
      typeof k === 'number'
        ? Array.isArray(current)
          ? current[k]
          : undefined
        : isRecord(current)
          ? current[k]
          : undefined;
  return current;
}

type RunResult = { code: number; stdout: string; stderr: string };

/** Async on purpose: the server answering curl runs in this same process. */
function run(command: string, args: string[], env: Record<string, string>, input = ''): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

describeWithKube('install.sh against a real Kubernetes API server', (cluster) => {
  let t: TestApp;
  let serverUrl: string;
  let saKubeconfig: string | undefined;

  beforeAll(async () => {
    t = await createTestApp('sqlite', { NIRO_PUBLIC_URL: PUBLIC_URL });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
    serverUrl = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    // beforeAll may not have run when the cluster failed to start
    if (typeof t !== 'undefined') await t.dispose();
  });

  /** `curl | sh` exactly as the install command says, with NIRO_URL pointing at the test server. */
  async function install(env: Record<string, string> = {}): Promise<RunResult> {
    const c = cluster();
    const result = await run('/bin/sh', ['-c', 'curl -fsSL "$NIRO_URL/install.sh" | sh'], {
      PATH: `${c.binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: c.dir,
      KUBECONFIG: c.kubeconfig,
      NIRO_URL: serverUrl,
      NIRO_ROLLOUT_TIMEOUT: '90s',
      ...env,
    });
    expect(result.stdout + result.stderr, 'the installer never prints the token').not.toContain(TOKEN);
    return result;
  }

  async function get(args: string[]): Promise<unknown> {
    return JSON.parse((await cluster().kubectl(['get', ...args, '-o', 'json'])).stdout);
  }

  async function exists(args: string[]): Promise<boolean> {
    const r = await cluster().kubectl(['get', ...args, '-o', 'name'], { allowFailure: true });
    if (r.code !== 0 && !r.stderr.includes('NotFound')) throw new Error(`kubectl get ${args.join(' ')}: ${r.stderr}`);
    return r.code === 0;
  }

  /** SelfSubjectAccessReviews made with the agent's own ServiceAccount token, as the agent makes them. */
  async function agentAccess(probes: AccessProbe[]): Promise<boolean[]> {
    const c = cluster();
    saKubeconfig ??= await c.serviceAccountKubeconfig(AGENT_NAMESPACE, AGENT_NAME);
    const reviews = probes.map((probe) => ({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: probe },
    }));
    const r = await run(
      join(c.binDir, 'kubectl'),
      // kubectl prints one object per review, in order: one line each.
      [
        '--kubeconfig',
        saKubeconfig,
        'create',
        '--validate=false',
        '-o',
        'jsonpath={.status.allowed}{"\\n"}',
        '-f',
        '-',
      ],
      { HOME: c.dir },
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: reviews }),
    );
    if (r.code !== 0) throw new Error(`SelfSubjectAccessReview failed: ${r.stderr}`);
    const answers = r.stdout.trim().split('\n');
    if (answers.length !== probes.length || answers.some((a) => a !== 'true' && a !== 'false')) {
      throw new Error(`unexpected SelfSubjectAccessReview answers: ${r.stdout}`);
    }
    return answers.map((a) => a === 'true');
  }

  /** Asserts each probe's answer, reporting every wrong one at once. */
  async function expectAccess(expected: [AccessProbe, boolean][]): Promise<void> {
    const actual = await agentAccess(expected.map(([probe]) => probe));
    const line = ([probe, allowed]: [AccessProbe, boolean]) =>
      `${allowed ? 'allowed' : 'denied '} ${JSON.stringify(probe)}`;
    expect(expected.map((e, i) => line([e[0], actual[i] === true]))).toEqual(expected.map(line));
  }

  /**
   * Each capability's probes pass iff it is granted, and its binding exists iff it is granted.
   * `apply` (every verb but escalate/bind/impersonate on every kind) also passes the other
   * capabilities' probes, so with it on they all pass.
   */
  async function expectCapabilities(enabled: CapabilityName[]): Promise<void> {
    const expected: [AccessProbe, boolean][] = [];
    for (const name of CAPABILITY_NAMES) {
      const grant = CAPABILITY_GRANTS[name];
      const allowed = enabled.includes(name) || enabled.includes('apply');
      for (const probe of grant.probes) expected.push([probe, allowed]);
      const binding =
        grant.scope === 'cluster'
          ? ['clusterrolebinding', grant.roleName]
          : ['-n', AGENT_NAMESPACE, 'rolebinding', grant.roleName];
      expect(await exists(binding), `${name} binding`).toBe(enabled.includes(name));
    }
    await expectAccess(expected);
  }

  /** What must stay denied whatever the capabilities: no privilege widening. */
  async function expectNoEscalation(): Promise<void> {
    const rbac = 'rbac.authorization.k8s.io';
    await expectAccess([
      [{ verb: 'escalate', group: rbac, resource: 'clusterroles' }, false],
      [{ verb: 'escalate', group: rbac, resource: 'roles', namespace: AGENT_NAMESPACE }, false],
      [{ verb: 'bind', group: rbac, resource: 'clusterroles' }, false],
      [{ verb: 'bind', group: rbac, resource: 'roles', namespace: AGENT_NAMESPACE }, false],
      [{ verb: 'impersonate', group: '', resource: 'users' }, false],
      [{ verb: 'impersonate', group: '', resource: 'serviceaccounts' }, false],
      [{ verb: 'impersonate', group: '', resource: 'groups' }, false],
    ]);
  }

  /** Without `apply`, the agent reaches only its own two Secrets. */
  async function expectOnlyOwnSecrets(): Promise<void> {
    const secret = (verb: string, namespace?: string, name?: string): AccessProbe => ({
      verb,
      group: '',
      resource: 'secrets',
      ...(namespace !== undefined && { namespace }),
      ...(name !== undefined && { name }),
    });
    await expectAccess([
      [secret('get', AGENT_NAMESPACE, AGENT_KEY_SECRET), true],
      [secret('update', AGENT_NAMESPACE, AGENT_KEY_SECRET), true],
      [secret('get', AGENT_NAMESPACE, AGENT_TOKEN_SECRET), true],
      [secret('delete', AGENT_NAMESPACE, AGENT_TOKEN_SECRET), true],
      [secret('get', AGENT_NAMESPACE, 'someone-elses-secret'), false],
      [secret('list', AGENT_NAMESPACE), false],
      [secret('watch', AGENT_NAMESPACE), false],
      [secret('get', 'default', 'db-password'), false],
      [secret('get', 'kube-system', AGENT_KEY_SECRET), false],
      [secret('list'), false],
      [secret('create', 'default'), false],
      [secret('delete', AGENT_NAMESPACE, AGENT_KEY_SECRET), false],
    ]);
  }

  async function tokenSecret(): Promise<{ token: string; resourceVersion: unknown; label: unknown }> {
    const s = await get(['-n', AGENT_NAMESPACE, 'secret', AGENT_TOKEN_SECRET]);
    const data = field(s, 'data', 'token');
    return {
      token: typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : '',
      resourceVersion: field(s, 'metadata', 'resourceVersion'),
      label: field(s, 'metadata', 'labels', AGENT_INSTALL_LABEL),
    };
  }

  it('stops with a clear message when kubectl cannot reach the cluster', async () => {
    const c = cluster();
    const kubeconfig = join(c.dir, 'unreachable.kubeconfig.yaml');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'gone', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'gone', user: { token: 'not-a-real-credential' } }],
        contexts: [{ name: 'gone', context: { cluster: 'gone', user: 'gone' } }],
        'current-context': 'gone',
      }),
    );
    const r = await install({ KUBECONFIG: kubeconfig, NIRO_TOKEN: TOKEN });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('kubectl cannot reach the cluster');
  });

  it('installs with the defaults: every object labelled, the token stored, the agent rolled out', async () => {
    const r = await install({ NIRO_TOKEN: TOKEN });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('niro: done');
    expect(r.stdout).toMatch(/pods\s+on/);
    expect(r.stdout).toMatch(/logs\s+off/);

    const c = cluster();
    const clusterScoped = (
      await c.kubectl(['get', 'namespaces,clusterroles,clusterrolebindings', '-l', LABEL, '-o', 'name'])
    ).stdout;
    expect(clusterScoped.trim().split('\n').sort()).toEqual(
      [
        `namespace/${AGENT_NAMESPACE}`,
        'clusterrole.rbac.authorization.k8s.io/niro-agent-read',
        'clusterrole.rbac.authorization.k8s.io/niro-agent-pods',
        'clusterrolebinding.rbac.authorization.k8s.io/niro-agent-read',
        'clusterrolebinding.rbac.authorization.k8s.io/niro-agent-pods',
      ].sort(),
    );
    const namespaced = (
      await c.kubectl([
        '-n',
        AGENT_NAMESPACE,
        'get',
        'serviceaccounts,roles,rolebindings,deployments,secrets',
        '-l',
        LABEL,
        '-o',
        'name',
      ])
    ).stdout;
    expect(namespaced.trim().split('\n').sort()).toEqual(
      [
        `serviceaccount/${AGENT_NAME}`,
        'role.rbac.authorization.k8s.io/niro-agent-secrets',
        'rolebinding.rbac.authorization.k8s.io/niro-agent-secrets',
        `deployment.apps/${AGENT_NAME}`,
        `secret/${AGENT_TOKEN_SECRET}`,
      ].sort(),
    );

    expect(await tokenSecret()).toMatchObject({ token: TOKEN, label: AGENT_INSTALL_LABEL_VALUE });
    const deployment = await get(['-n', AGENT_NAMESPACE, 'deployment', AGENT_NAME]);
    expect(field(deployment, 'status', 'readyReplicas')).toBe(1);
    expect(field(deployment, 'spec', 'template', 'spec', 'containers', 0, 'env', 0)).toEqual({
      name: 'NIRO_URL',
      value: PUBLIC_URL,
    });
    // The key is given by the token Secret (restart), never by the manifest.
    expect(
      field(deployment, 'spec', 'template', 'metadata', 'annotations', 'kubectl.kubernetes.io/restartedAt'),
    ).toEqual(expect.any(String));

    await expectCapabilities(['pods']);
    await expectOnlyOwnSecrets();
    await expectNoEscalation();
  });

  it('re-run without a token changes capabilities, keeps the key and the token, and does not restart the agent', async () => {
    const c = cluster();
    // What the agent writes after enrolling: the re-run must leave it alone.
    await c.apply(`apiVersion: v1
kind: Secret
metadata: { name: ${AGENT_KEY_SECRET}, namespace: ${AGENT_NAMESPACE} }
stringData: { agentKey: niro_ak_kube-install-test-key, clusterId: c-1 }
`);
    const keyBefore = await get(['-n', AGENT_NAMESPACE, 'secret', AGENT_KEY_SECRET]);
    const tokenBefore = await tokenSecret();
    const generationBefore = field(
      await get(['-n', AGENT_NAMESPACE, 'deployment', AGENT_NAME]),
      'metadata',
      'generation',
    );

    const r = await install({ NIRO_ENABLE_PODS: '0', NIRO_ENABLE_LOGS: '1' });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('removed capability pods');
    expect(r.stdout).not.toContain('warning');
    expect(r.stdout).toMatch(/pods\s+off/);
    expect(r.stdout).toMatch(/logs\s+on/);

    expect(await exists(['clusterrolebinding', 'niro-agent-pods'])).toBe(false);
    expect(await exists(['clusterrolebinding', 'niro-agent-logs'])).toBe(true);
    expect(await tokenSecret()).toEqual(tokenBefore);
    expect(await get(['-n', AGENT_NAMESPACE, 'secret', AGENT_KEY_SECRET])).toEqual(keyBefore);
    expect(field(await get(['-n', AGENT_NAMESPACE, 'deployment', AGENT_NAME]), 'metadata', 'generation')).toBe(
      generationBefore,
    );

    await expectCapabilities(['logs']);
    await expectOnlyOwnSecrets();
    await expectNoEscalation();
  });

  it('grants apply and self-update when asked, still without escalate, bind or impersonate', async () => {
    const r = await install({ NIRO_ENABLE_PODS: '1', NIRO_ENABLE_APPLY: '1', NIRO_ENABLE_SELF_UPDATE: '1' });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('removed capability logs');
    await expectCapabilities(['pods', 'apply', 'selfUpdate']);
    await expectNoEscalation();

    const back = await install({ NIRO_ENABLE_APPLY: '0', NIRO_ENABLE_SELF_UPDATE: '1' });
    expect(back.code, `${back.stdout}\n${back.stderr}`).toBe(0);
    await expectCapabilities(['pods', 'selfUpdate']);
    // Without apply, self-update reaches the agent's own Deployment only.
    const deployments = { verb: 'patch', group: 'apps', resource: 'deployments' };
    await expectAccess([
      [{ ...deployments, namespace: AGENT_NAMESPACE, name: AGENT_NAME }, true],
      [{ ...deployments, namespace: 'default', name: AGENT_NAME }, false],
      [{ ...deployments, namespace: AGENT_NAMESPACE, name: 'other' }, false],
      [{ ...deployments, namespace: AGENT_NAMESPACE }, false],
    ]);
    await expectOnlyOwnSecrets();
  });
});
