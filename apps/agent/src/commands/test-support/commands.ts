import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { CommandMessage, CommandResultBody, ObjectResult } from '@niro/protocol';
import type { CommandKind } from '@niro/protocol/commands';
import { createAgentLogger, type Logger } from '../../logger.js';
import { KubeClient } from '../../kube/kube-client.js';
import { loadKubeConfig } from '../../kube/kube-config.js';
import { isRecord } from '../../kube/kube-object.js';
import type {
  KubeApi,
  ListOptions,
  ListResult,
  RequestOptions,
  StreamOptions,
  WatchEventType,
  WatchOptions,
} from '../../kube/types.js';
import { Discovery } from '../discovery.js';
import type { CommandContext } from '../executor.js';
import { CommandLedger } from '../ledger.js';

/** The real client, with a count of the requests that change something (PATCH without dryRun, DELETE, ...). */
export class CountingApi implements KubeApi {
  writes = 0;
  readonly writePaths: string[] = [];

  constructor(private readonly inner: KubeApi) {}

  get server(): string {
    return this.inner.server;
  }

  request(method: string, path: string, options?: RequestOptions): Promise<unknown> {
    const dryRun = options?.query?.dryRun !== undefined;
    if (method !== 'GET' && !dryRun && !path.endsWith('accessreviews')) {
      this.writes += 1;
      this.writePaths.push(`${method} ${path}`);
    }
    return this.inner.request(method, path, options);
  }

  stream(path: string, options?: StreamOptions): Promise<Readable> {
    return this.inner.stream(path, options);
  }

  list(path: string, options?: ListOptions): Promise<ListResult> {
    return this.inner.list(path, options);
  }

  watch(path: string, options: WatchOptions, onEvent: (type: WatchEventType, object: unknown) => void): Promise<void> {
    return this.inner.watch(path, options, onEvent);
  }

  close(): void {
    this.inner.close();
  }
}

export const kubeApi = (kubeconfig: string): CountingApi =>
  new CountingApi(new KubeClient(loadKubeConfig({ KUBECONFIG: kubeconfig })));

/** A logger whose lines the test can read. */
export function captureLogs(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createAgentLogger('debug', { write: (line: string) => lines.push(line) }), lines };
}

export function testContext(api: KubeApi, overrides: Partial<CommandContext> = {}): CommandContext {
  return {
    api,
    capabilities: { pods: true, logs: true, apply: true, selfUpdate: true },
    logger: createAgentLogger('silent'),
    namespace: 'niro-system',
    ledger: new CommandLedger(),
    discovery: new Discovery(api),
    crdTimeoutMs: 30_000,
    ...overrides,
  };
}

export function command(kind: CommandKind, payload: Record<string, unknown>, id = randomUUID()): CommandMessage {
  const now = Date.now();
  return {
    type: 'command',
    id,
    kind,
    payload,
    issuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 600_000).toISOString(),
  };
}

/** `result.objects` of a result body, checked. */
export function objectsOf(body: CommandResultBody): ObjectResult[] {
  const objects = body.result?.objects;
  if (!Array.isArray(objects)) throw new Error(`no objects in ${JSON.stringify(body)}`);
  return objects.filter((o): o is ObjectResult => isRecord(o) && typeof o.action === 'string');
}

/** "Kind/name action" lines, easy to compare. */
export const actions = (body: CommandResultBody): string[] =>
  objectsOf(body).map((o) => `${o.kind}/${o.name} ${o.action}`);

export type ShopOptions = { namespace: string; mode?: string; withConfigMap?: boolean; replicas?: number };

/** Namespace, ConfigMap, Deployment and Service: a small app as a user would write it. */
export function shopManifests({ namespace, mode = 'fast', withConfigMap = true, replicas = 1 }: ShopOptions): string {
  const docs = [
    `apiVersion: v1
kind: Namespace
metadata:
  name: ${namespace}
`,
    `apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-settings
  namespace: ${namespace}
data:
  mode: ${mode}
`,
    `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: ${namespace}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{containerPort: 80}]
`,
    `apiVersion: v1
kind: Service
metadata:
  name: shop
  namespace: ${namespace}
spec:
  selector: {app: shop}
  ports: [{port: 80, targetPort: 80}]
`,
  ];
  return (withConfigMap ? docs : docs.filter((d) => !d.includes('kind: ConfigMap'))).join('---\n');
}

/** The classic "billion laughs": nine levels of ten aliases each, a billion strings once expanded. */
export function billionLaughs(): string {
  const lines = ['apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: lol}', 'data:', '  a: &a ["lol"]'];
  let previous = 'a';
  for (const level of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']) {
    lines.push(`  ${level}: &${level} [${Array.from({ length: 10 }, () => `*${previous}`).join(', ')}]`);
    previous = level;
  }
  return `${lines.join('\n')}\n`;
}
