import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeCluster } from '@niro/testkit/kube';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { KubeClient } from './kube-client.js';
import { fromKubeconfigFile, loadKubeConfig } from './kube-config.js';
import { KubeApiError, KubeClientError } from './kube-errors.js';
import { isRecord, objectKey, stringField } from './kube-object.js';
import type { WatchEventType } from './types.js';

const NS = 'kube-client-test';

function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

function configMaps(names: string[], label: string, data: Record<string, string> = {}): string {
  return names
    .map((name) =>
      stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace: NS, labels: { set: label } },
        data,
      }),
    )
    .join('---\n');
}

describeWithKube('KubeClient against the local API server', (cluster: () => KubeCluster) => {
  let admin: KubeClient;
  const clients: KubeClient[] = [];
  const client = (kubeconfig: string): KubeClient => {
    const c = new KubeClient(loadKubeConfig({ KUBECONFIG: kubeconfig }));
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    admin = client(cluster().kubeconfig);
    await cluster().kubectl(['create', 'namespace', NS]);
    await cluster().kubectl(['create', 'serviceaccount', 'nobody', '-n', NS]);
  });
  afterAll(() => {
    for (const c of clients) c.close();
  });

  it('authenticates with the client certificate of the harness kubeconfig', async () => {
    const version = await admin.request('GET', '/version');
    expect(stringField(version, 'gitVersion')).toMatch(/^v1\.\d+\.\d+/);
    const nodes = await admin.list('/api/v1/nodes');
    expect(nodes.items.map(objectKey).sort()).toHaveLength(3);
    expect(nodes.resourceVersion).not.toBe('');
  });

  it('creates with a JSON body and turns error answers into KubeApiError with the API status', async () => {
    const path = `/api/v1/namespaces/${NS}/configmaps`;
    const created = await admin.request('POST', path, {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'posted' }, data: { a: '1' } },
    });
    expect(objectKey(created)).toBe(`${NS}/posted`);

    const conflict = await caught(
      admin.request('POST', path, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'posted' } } }),
    );
    expect(conflict).toBeInstanceOf(KubeApiError);
    expect(conflict).toMatchObject({
      status: 409,
      reason: 'AlreadyExists',
      message: 'configmaps "posted" already exists',
    });

    const missing = await caught(admin.request('GET', `${path}/absent`));
    expect(missing).toMatchObject({ status: 404, reason: 'NotFound', message: 'configmaps "absent" not found' });
  });

  it('gives a service account without rights a 403 with the API message, and never shows its token', async () => {
    const kubeconfig = await cluster().serviceAccountKubeconfig(NS, 'nobody');
    const doc: unknown = parse(readFileSync(kubeconfig, 'utf8'));
    const users = isRecord(doc) && Array.isArray(doc.users) ? doc.users : [];
    const token = stringField(isRecord(users[0]) ? users[0].user : undefined, 'token') ?? '';
    expect(token.length).toBeGreaterThan(20);

    const err = await caught(client(kubeconfig).list(`/api/v1/namespaces/${NS}/configmaps`));
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({
      status: 403,
      reason: 'Forbidden',
      message: `configmaps is forbidden: User "system:serviceaccount:${NS}:nobody" cannot list resource "configmaps" in API group "" in the namespace "${NS}"`,
    });
    const shown = [String(err), JSON.stringify(err), err instanceof Error ? err.stack : ''].join('\n');
    expect(shown).not.toContain(token);
  });

  it('follows continue pages: 30 ConfigMaps with a page size of 10', async () => {
    const names = Array.from({ length: 30 }, (_, i) => `page-${String(i).padStart(2, '0')}`);
    await cluster().apply(configMaps(names, 'paging'));
    const pages: number[] = [];
    const paged = await admin.list(`/api/v1/namespaces/${NS}/configmaps`, {
      labelSelector: 'set=paging',
      limit: 10,
      onPage: (items) => pages.push(items.length),
    });
    // The server may end with an empty page when the last full page left a continue token.
    expect(pages.filter((n) => n > 0)).toEqual([10, 10, 10]);
    expect(paged.items).toEqual([]);

    const whole = await admin.list(`/api/v1/namespaces/${NS}/configmaps`, { labelSelector: 'set=paging', limit: 10 });
    expect(whole.items.map(objectKey)).toEqual(names.map((n) => `${NS}/${n}`));
  });

  it('watches ADDED, MODIFIED and DELETED from a list resourceVersion, until aborted', async () => {
    const path = `/api/v1/namespaces/${NS}/configmaps`;
    const start = await admin.list(path, { labelSelector: 'set=watch' });
    const seen: { type: WatchEventType; key: string | null; value: string | undefined }[] = [];
    const abort = new AbortController();
    const watching = admin.watch(
      path,
      { resourceVersion: start.resourceVersion, labelSelector: 'set=watch', signal: abort.signal },
      (type, object) => {
        const data = isRecord(object) ? object.data : undefined;
        if (type !== 'BOOKMARK') seen.push({ type, key: objectKey(object), value: stringField(data, 'v') });
      },
    );
    await cluster().apply(configMaps(['watched'], 'watch', { v: '1' }));
    await cluster().apply(configMaps(['watched'], 'watch', { v: '2' }));
    await cluster().kubectl(['delete', 'configmap', 'watched', '-n', NS]);
    await vi.waitFor(() => expect(seen.map((e) => e.type)).toContain('DELETED'), { timeout: 20_000 });
    expect(seen).toEqual([
      { type: 'ADDED', key: `${NS}/watched`, value: '1' },
      { type: 'MODIFIED', key: `${NS}/watched`, value: '2' },
      { type: 'DELETED', key: `${NS}/watched`, value: '2' },
    ]);

    abort.abort();
    expect(await caught(watching)).toMatchObject({ name: 'AbortError' });
  });

  it('ends a watch normally at its server-side timeout', async () => {
    const start = await admin.list(`/api/v1/namespaces/${NS}/configmaps`, { limit: 1 });
    await expect(
      admin.watch(
        `/api/v1/namespaces/${NS}/configmaps`,
        { resourceVersion: start.resourceVersion, timeoutSeconds: 1 },
        () => undefined,
      ),
    ).resolves.toBeUndefined();
  });

  it('rejects a watch from a resourceVersion that is too old with KubeApiError 410', async () => {
    const err = await caught(
      admin.watch(`/api/v1/namespaces/${NS}/configmaps`, { resourceVersion: '1' }, () => undefined),
    );
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 410, reason: 'Expired' });
  });

  it('verifies the server certificate against tls-server-name', async () => {
    const base: unknown = parse(readFileSync(cluster().kubeconfig, 'utf8'));
    const withServerName = (name: string): string => {
      if (!isRecord(base) || !Array.isArray(base.clusters) || !isRecord(base.clusters[0]))
        throw new Error('kubeconfig');
      const entry = base.clusters[0];
      const copy = {
        ...base,
        clusters: [
          { ...entry, cluster: { ...(isRecord(entry.cluster) ? entry.cluster : {}), 'tls-server-name': name } },
        ],
      };
      const path = join(cluster().dir, `tls-${name}.kubeconfig.yaml`);
      writeFileSync(path, stringify(copy));
      return path;
    };
    await expect(client(withServerName('kubernetes.default.svc')).request('GET', '/version')).resolves.toBeTruthy();
    const err = await caught(client(withServerName('wrong.example')).request('GET', '/version'));
    expect(err).toBeInstanceOf(KubeClientError);
    expect(String(err)).toContain('wrong.example');
  });

  it('reads a rotated service account token in a pod after the refresh interval', async () => {
    await cluster().kubectl(['create', 'serviceaccount', 'reader', '-n', NS]);
    await cluster().kubectl(['create', 'role', 'read-cm', '--verb=list', '--resource=configmaps', '-n', NS]);
    await cluster().kubectl([
      'create',
      'rolebinding',
      'read-cm',
      '--role=read-cm',
      `--serviceaccount=${NS}:reader`,
      '-n',
      NS,
    ]);
    const token = async (sa: string): Promise<string> =>
      (await cluster().kubectl(['create', 'token', sa, '-n', NS])).stdout.trim();
    const saDir = mkdtempSync(join(tmpdir(), 'niro-sa-'));
    try {
      writeFileSync(join(saDir, 'token'), await token('nobody'));
      writeFileSync(join(saDir, 'ca.crt'), readFileSync(join(cluster().dir, 'pki', 'ca.crt')));
      writeFileSync(join(saDir, 'namespace'), NS);
      const server = new URL(fromKubeconfigFile(cluster().kubeconfig).server);
      let now = 0;
      const config = loadKubeConfig(
        { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port },
        { serviceAccountDir: saDir, now: () => now },
      );
      expect(config.namespace).toBe(NS);
      const pod = new KubeClient(config);
      clients.push(pod);
      const list = (): Promise<unknown> => pod.list(`/api/v1/namespaces/${NS}/configmaps`, { limit: 1 });

      expect(await caught(list())).toMatchObject({ status: 403 });
      writeFileSync(join(saDir, 'token'), await token('reader'));
      expect(await caught(list())).toMatchObject({ status: 403 });
      now += 60_000;
      await expect(list()).resolves.toMatchObject({ resourceVersion: expect.any(String) });
    } finally {
      rmSync(saDir, { recursive: true, force: true });
    }
  });
});

let blackHole: Server;
beforeAll(async () => {
  // Reads and drops the TLS hello, so it notices when the client hangs up.
  blackHole = createServer((socket) => socket.resume());
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await new Promise((resolve) => blackHole.close(resolve));
});

it('gives up on a server that never answers after the request timeout', async () => {
  const address = blackHole.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  const c = new KubeClient(
    {
      source: 'kubeconfig',
      description: 'test',
      server: `https://127.0.0.1:${port}`,
      ca: undefined,
      insecureSkipTlsVerify: false,
      tlsServerName: undefined,
      clientCert: undefined,
      clientKey: undefined,
      token: undefined,
      namespace: 'default',
    },
    { timeoutMs: 200 },
  );
  const err = await caught(c.request('GET', '/version'));
  expect(err).toBeInstanceOf(KubeClientError);
  expect(String(err)).toBe('KubeClientError: GET /version: no complete answer within 200 ms');
  c.close();
  expect(await caught(c.request('GET', '/version'))).toMatchObject({
    message: 'GET /version: the Kubernetes client is closed',
  });
});
