import type { KubeCluster } from '@niro/testkit/kube';
import { createAgentLogger, type Logger } from '../logger.js';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { KubeClient } from './kube-client.js';
import { loadKubeConfig } from './kube-config.js';
import { isRecord, objectKey, stringField } from './kube-object.js';
import { Reflector } from './reflector.js';
import type { Readable } from 'node:stream';
import type {
  KubeApi,
  ListOptions,
  ListResult,
  RequestOptions,
  StreamOptions,
  WatchEventType,
  WatchOptions,
} from './types.js';

const NS = 'reflector-test';
const PATH = `/api/v1/namespaces/${NS}/configmaps`;

/**
 * The real client, observed: counts lists, records watch errors, and can end the running watch
 * and make the next one ask for a resourceVersion the server has long forgotten (410 Gone).
 */
class ObservedApi implements KubeApi {
  lists = 0;
  readonly watchErrors: unknown[] = [];
  #gate: Promise<void> | undefined;
  #current: AbortController | undefined;

  constructor(private readonly inner: KubeApi) {}

  get server(): string {
    return this.inner.server;
  }

  request(method: string, path: string, options?: RequestOptions): Promise<unknown> {
    return this.inner.request(method, path, options);
  }

  stream(path: string, options?: StreamOptions): Promise<Readable> {
    return this.inner.stream(path, options);
  }

  list(path: string, options?: ListOptions): Promise<ListResult> {
    this.lists += 1;
    return this.inner.list(path, options);
  }

  /** Ends the running watch as the server would; the next one waits for `gate`, then gets 410. */
  expireNextWatch(gate: Promise<void>): void {
    this.#gate = gate;
    this.#current?.abort();
  }

  async watch(
    path: string,
    options: WatchOptions,
    onEvent: (type: WatchEventType, object: unknown) => void,
  ): Promise<void> {
    const gate = this.#gate;
    this.#gate = undefined;
    if (gate !== undefined) {
      await gate;
      options = { ...options, resourceVersion: '1' };
    }
    const ended = new AbortController();
    this.#current = ended;
    const signal = options.signal ? AbortSignal.any([options.signal, ended.signal]) : ended.signal;
    try {
      await this.inner.watch(path, { ...options, signal }, onEvent);
    } catch (err) {
      if (ended.signal.aborted && options.signal?.aborted !== true) return;
      this.watchErrors.push(err);
      throw err;
    }
  }

  close(): void {
    this.inner.close();
  }
}

type Value = { v: string | undefined };

/** ConfigMaps by key with their `data.v`; those with `data.skip` are dropped. */
function convert(obj: unknown): { key: string; value: Value } | null {
  const key = objectKey(obj);
  const data = isRecord(obj) ? obj.data : undefined;
  if (key === null || stringField(data, 'skip') !== undefined) return null;
  return { key, value: { v: stringField(data, 'v') } };
}

function configMap(name: string, label: string, data: Record<string, string>): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: NS, labels: { set: label } },
    data,
  });
}

function captureLogs(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createAgentLogger('debug', {
    write(line: string) {
      const parsed: unknown = JSON.parse(line);
      if (isRecord(parsed)) lines.push(parsed);
    },
  });
  return { logger, lines };
}

describeWithKube('Reflector against the local API server', (cluster: () => KubeCluster) => {
  const apis: KubeApi[] = [];
  const api = (kubeconfig: string): ObservedApi => {
    const observed = new ObservedApi(new KubeClient(loadKubeConfig({ KUBECONFIG: kubeconfig })));
    apis.push(observed);
    return observed;
  };
  const stateFromKubectl = async (label: string): Promise<Map<string, Value>> => {
    const { stdout } = await cluster().kubectl(['get', 'configmaps', '-n', NS, '-l', `set=${label}`, '-o', 'json']);
    const parsed: unknown = JSON.parse(stdout);
    const items = isRecord(parsed) && Array.isArray(parsed.items) ? parsed.items : [];
    return new Map(
      items.flatMap((item) => [convert(item)].flatMap((c) => (c === null ? [] : [[c.key, c.value] as const]))),
    );
  };

  beforeAll(async () => {
    await cluster().kubectl(['create', 'namespace', NS]);
  });
  afterAll(() => {
    for (const a of apis) a.close();
  });

  it('keeps its store equal to kubectl get through creates, updates and deletes', async () => {
    await cluster().apply([configMap('m1', 'mirror', { v: '1' }), configMap('m2', 'mirror', { v: '1' })].join('---\n'));
    const changes: [string, Value | undefined][] = [];
    const reflector = new Reflector({
      api: api(cluster().kubeconfig),
      path: PATH,
      labelSelector: 'set=mirror',
      convert,
      onChange: (key, value) => changes.push([key, value]),
      logger: captureLogs().logger,
    });
    reflector.start();
    await reflector.synced();
    expect(reflector.hasSynced()).toBe(true);
    expect(reflector.store).toEqual(await stateFromKubectl('mirror'));
    expect(changes.map(([key]) => key).sort()).toEqual([`${NS}/m1`, `${NS}/m2`]);

    await cluster().apply(
      [
        configMap('m1', 'mirror', { v: '2' }),
        configMap('m3', 'mirror', { v: '1' }),
        configMap('m4', 'mirror', { v: '1' }),
      ].join('---\n'),
    );
    await cluster().kubectl(['delete', 'configmap', 'm2', '-n', NS]);
    // An object that stops passing `convert` leaves the store too.
    await cluster().apply(configMap('m4', 'mirror', { v: '1', skip: 'please' }));
    await vi.waitFor(async () => expect(reflector.store).toEqual(await stateFromKubectl('mirror')), {
      timeout: 20_000,
    });
    expect([...reflector.store.keys()].sort()).toEqual([`${NS}/m1`, `${NS}/m3`]);
    await vi.waitFor(() => expect(changes).toContainEqual([`${NS}/m4`, undefined]));
    expect(changes).toContainEqual([`${NS}/m2`, undefined]);
    expect(changes).toContainEqual([`${NS}/m1`, { v: '2' }]);

    await reflector.stop();
    expect(reflector.lastError).toBeNull();
  });

  it('relists after 410 Gone and reports only what changed while it was not watching', async () => {
    await cluster().apply(['a', 'b', 'c'].map((n) => configMap(n, 'gone', { v: '1' })).join('---\n'));
    const observed = api(cluster().kubeconfig);
    const changes: [string, string | undefined][] = [];
    const reflector = new Reflector({
      api: observed,
      path: PATH,
      labelSelector: 'set=gone',
      convert,
      onChange: (key, value) => changes.push([key, value?.v]),
      logger: captureLogs().logger,
    });
    reflector.start();
    await reflector.synced();
    expect(changes).toHaveLength(3);
    changes.length = 0;

    let open = (): void => undefined;
    observed.expireNextWatch(new Promise<void>((resolve) => (open = resolve)));
    await cluster().kubectl(['delete', 'configmap', 'b', '-n', NS]);
    await cluster().apply([configMap('c', 'gone', { v: '2' }), configMap('d', 'gone', { v: '1' })].join('---\n'));
    open();

    await vi.waitFor(() => expect(changes).toHaveLength(3), { timeout: 20_000 });
    expect(changes.sort()).toEqual([
      [`${NS}/b`, undefined],
      [`${NS}/c`, '2'],
      [`${NS}/d`, '1'],
    ]);
    expect(observed.watchErrors).toEqual([expect.objectContaining({ status: 410 })]);
    expect(observed.lists).toBe(2);
    expect([...reflector.store.keys()].sort()).toEqual([`${NS}/a`, `${NS}/c`, `${NS}/d`]);
    await reflector.stop();
  });

  it('exposes 403 while forbidden, logs it once, and syncs once RBAC allows the resource', async () => {
    await cluster().kubectl(['create', 'serviceaccount', 'late', '-n', NS]);
    const observed = api(await cluster().serviceAccountKubeconfig(NS, 'late'));
    const { logger, lines } = captureLogs();
    const reflector = new Reflector({
      api: observed,
      path: PATH,
      convert,
      logger,
      backoff: { initialMs: 5, maxMs: 20 },
    });
    reflector.start();
    await vi.waitFor(() => expect(observed.lists).toBeGreaterThanOrEqual(4), { timeout: 20_000 });
    expect(reflector.hasSynced()).toBe(false);
    expect(reflector.lastError).toMatchObject({ status: 403, reason: 'Forbidden' });
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toEqual([
      expect.objectContaining({
        resource: PATH,
        status: 403,
        msg: `watch ${PATH}: forbidden by RBAC; retrying slowly`,
      }),
    ]);

    await cluster().kubectl(['create', 'role', 'late', '--verb=list,watch', '--resource=configmaps', '-n', NS]);
    await cluster().kubectl(['create', 'rolebinding', 'late', '--role=late', `--serviceaccount=${NS}:late`, '-n', NS]);
    await reflector.synced();
    expect(reflector.lastError).toBeNull();
    expect(lines.filter((l) => l.msg === `watch ${PATH}: working again`)).toHaveLength(1);
    await reflector.stop();
  });

  it('rejects synced() when stopped before its first list', async () => {
    await cluster().kubectl(['create', 'serviceaccount', 'never', '-n', NS]);
    const reflector = new Reflector({
      api: api(await cluster().serviceAccountKubeconfig(NS, 'never')),
      path: PATH,
      convert,
      logger: captureLogs().logger,
    });
    reflector.start();
    const synced = reflector.synced();
    await reflector.stop();
    await expect(synced).rejects.toThrow(`the reflector for ${PATH} stopped before its first list`);
  });
});
