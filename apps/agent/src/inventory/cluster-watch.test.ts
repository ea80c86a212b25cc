import type { DeltaInventory, FullInventory, Inventory, PolicyObject } from '@niro/protocol';
import type { KubeCluster } from '@niro/testkit/kube';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { afterAll, expect, it, vi } from 'vitest';
import { KubeClient } from '../kube/kube-client.js';
import { loadKubeConfig } from '../kube/kube-config.js';
import { isRecord } from '../kube/kube-object.js';
import { createAgentLogger, type Logger } from '../logger.js';
import { ClusterWatch, POLICY_OBJECT_RESOURCES } from './cluster-watch.js';
import type { PreparedInventory } from './inventory-tracker.js';

const NS = 'objects-test';

const policyObjects = `
apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
apiVersion: v1
kind: Service
metadata: { name: api, namespace: ${NS}, labels: { app: api } }
spec:
  type: LoadBalancer
  selector: { app: api }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: api, namespace: ${NS} }
spec:
  minAvailable: 1
  selector: { matchLabels: { app: api } }
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: api, namespace: ${NS} }
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: api }
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: { name: cpu, target: { type: Utilization, averageUtilization: 70 } }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: deny-ingress, namespace: ${NS} }
spec:
  podSelector: {}
  ingress: []
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: builder, namespace: ${NS}, labels: { team: ci } }
automountServiceAccountToken: false
imagePullSecrets: [{ name: ghcr }]
`;

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

const inNamespace = (objects: readonly PolicyObject[] | undefined, ns: string): PolicyObject[] =>
  (objects ?? [])
    .filter((o) => o.namespace === ns)
    .sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));

/** Object keys a delta upserts and removes in `ns`. */
function objectChanges(inventory: Inventory, ns: string): { upsert: string[]; remove: string[] } {
  if (inventory.mode !== 'delta') return { upsert: [], remove: [] };
  const delta: DeltaInventory = inventory;
  return {
    upsert: inNamespace(delta.upsert.objects, ns).map((o) => `${o.kind}/${o.namespace}/${o.name}`),
    remove: (delta.remove.objects ?? []).filter((key) => key.split('/')[1] === ns).sort(),
  };
}

/** Waits until the next heartbeat would carry `check`'s condition, then returns that heartbeat. */
async function nextInventory(watch: ClusterWatch, check: (inv: Inventory) => void): Promise<PreparedInventory> {
  let prepared: PreparedInventory | undefined;
  await vi.waitFor(
    () => {
      const p = watch.tracker.prepare();
      try {
        check(p.inventory);
      } catch (err) {
        p.abort();
        throw err;
      }
      prepared = p;
    },
    { timeout: 30_000, interval: 100 },
  );
  if (prepared === undefined) throw new Error('unreachable: waitFor returned without a heartbeat');
  return prepared;
}

describeWithKube('ClusterWatch: policy objects against the local API server', (cluster: () => KubeCluster) => {
  const clients: KubeClient[] = [];
  const client = (kubeconfig: string): KubeClient => {
    const c = new KubeClient(loadKubeConfig({ KUBECONFIG: kubeconfig }));
    clients.push(c);
    return c;
  };
  afterAll(() => {
    for (const c of clients) c.close();
  });

  it('reports them trimmed, a delete as a delta, and status changes not at all', async ({ annotate }) => {
    await cluster().apply(policyObjects);
    const { logger, lines } = captureLogs();
    const watch = new ClusterWatch(client(cluster().kubeconfig), logger);
    try {
      await watch.start(20_000);
      expect(await watch.waitForSync(20_000)).toBe(true);
      expect(watch.unavailableObjects()).toEqual([]);

      const first = await nextInventory(watch, (inv) => {
        expect(inv.mode).toBe('full');
        // The `default` account comes from the controller-manager, shortly after the namespace.
        expect(inNamespace((inv as FullInventory).objects, NS)).toHaveLength(6);
      });
      const full = first.inventory as FullInventory;
      expect(inNamespace(full.objects, NS)).toEqual([
        {
          kind: 'HorizontalPodAutoscaler',
          namespace: NS,
          name: 'api',
          spec: {
            scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' },
            minReplicas: 2,
            maxReplicas: 10,
          },
        },
        {
          kind: 'NetworkPolicy',
          namespace: NS,
          name: 'deny-ingress',
          spec: { podSelector: {}, policyTypes: ['Ingress'] },
        },
        {
          kind: 'PodDisruptionBudget',
          namespace: NS,
          name: 'api',
          spec: { selector: { matchLabels: { app: 'api' } }, minAvailable: 1 },
        },
        {
          kind: 'Service',
          namespace: NS,
          name: 'api',
          labels: { app: 'api' },
          spec: {
            selector: { app: 'api' },
            ports: [expect.objectContaining({ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' })],
            type: 'LoadBalancer',
          },
        },
        {
          kind: 'ServiceAccount',
          namespace: NS,
          name: 'builder',
          labels: { team: 'ci' },
          automountServiceAccountToken: false,
          imagePullSecrets: ['ghcr'],
        },
        { kind: 'ServiceAccount', namespace: NS, name: 'default' },
      ]);
      // Every kind from the whole cluster, e.g. the `kubernetes` Service in `default`.
      expect(full.objects).toContainEqual(
        expect.objectContaining({ kind: 'Service', namespace: 'default', name: 'kubernetes' }),
      );
      first.commit();
      await annotate(
        `full inventory: ${full.objects?.length ?? 0} policy objects, ${JSON.stringify(full.objects).length} bytes`,
      );

      // Status only: the HPA controller's own updates and these. A marker of each kind goes after
      // them in the same watch stream, so once the markers are in, the status events were seen.
      await cluster().kubectl([
        'patch',
        'hpa',
        'api',
        '-n',
        NS,
        '--subresource=status',
        '--type=merge',
        '-p',
        '{"status":{"currentReplicas":7,"desiredReplicas":9}}',
      ]);
      await cluster().kubectl([
        'patch',
        'service',
        'api',
        '-n',
        NS,
        '--subresource=status',
        '--type=merge',
        '-p',
        '{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.7"}]}}}',
      ]);
      await cluster().apply(`
apiVersion: v1
kind: Service
metadata: { name: marker, namespace: ${NS} }
spec: { ports: [{ port: 80 }] }
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: marker, namespace: ${NS} }
spec: { scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: marker }, maxReplicas: 2 }
`);
      const status = await nextInventory(watch, (inv) =>
        expect(objectChanges(inv, NS).upsert).toEqual(
          expect.arrayContaining([`HorizontalPodAutoscaler/${NS}/marker`, `Service/${NS}/marker`]),
        ),
      );
      expect(objectChanges(status.inventory, NS)).toEqual({
        upsert: [`HorizontalPodAutoscaler/${NS}/marker`, `Service/${NS}/marker`],
        remove: [],
      });
      status.commit();
      const hpaStatus = await cluster().kubectl([
        'get',
        'hpa',
        'api',
        '-n',
        NS,
        '-o',
        'jsonpath={.status.desiredReplicas}',
      ]);
      await annotate(`HPA status desiredReplicas now ${hpaStatus.stdout}: no delta for it`);

      await cluster().kubectl(['delete', 'networkpolicy', 'deny-ingress', '-n', NS]);
      await cluster().kubectl(['patch', 'hpa', 'api', '-n', NS, '--type=merge', '-p', '{"spec":{"maxReplicas":6}}']);
      const changed = await nextInventory(watch, (inv) => {
        const changes = objectChanges(inv, NS);
        expect(changes.remove).toEqual([`NetworkPolicy/${NS}/deny-ingress`]);
        expect(changes.upsert).toEqual([`HorizontalPodAutoscaler/${NS}/api`]);
      });
      const delta = changed.inventory as DeltaInventory;
      expect(inNamespace(delta.upsert.objects, NS)[0]?.spec).toMatchObject({ maxReplicas: 6 });
      changed.commit();
      expect(lines.filter((l) => l.level === 40)).toEqual([]);
    } finally {
      await watch.stop();
    }
  });

  it('reports no objects at all while RBAC (an older install) refuses some kinds, and all once it allows them', async () => {
    const ns = 'objects-rbac';
    const name = 'older-install';
    await cluster().kubectl(['create', 'namespace', ns]);
    await cluster().kubectl(['create', 'serviceaccount', name, '-n', ns]);
    // The read role of an install from before policy objects.
    await cluster().kubectl([
      'create',
      'clusterrole',
      name,
      '--verb=get,list,watch',
      '--resource=nodes,namespaces,events,deployments.apps,statefulsets.apps,daemonsets.apps,replicasets.apps,jobs.batch,cronjobs.batch',
    ]);
    await cluster().kubectl([
      'create',
      'clusterrolebinding',
      name,
      `--clusterrole=${name}`,
      `--serviceaccount=${ns}:${name}`,
    ]);

    const { logger, lines } = captureLogs();
    const watch = new ClusterWatch(client(await cluster().serviceAccountKubeconfig(ns, name)), logger, {
      objectsBackoff: { initialMs: 5, maxMs: 100 },
    });
    const warnings = () => lines.filter((l) => l.level === 40);
    const hasNoObjects = (inv: Inventory): void => {
      if (inv.mode === 'full') expect(inv.objects).toBeUndefined();
      if (inv.mode === 'delta') expect([inv.upsert.objects, inv.remove.objects]).toEqual([undefined, undefined]);
    };
    try {
      await watch.start(20_000);
      // Refused kinds do not hold up the start: waiting would not change them.
      expect(await watch.waitForSync(20_000)).toBe(true);
      expect(watch.failingWatches()).toEqual([]);
      expect(watch.unavailableObjects()).toEqual(POLICY_OBJECT_RESOURCES.map(({ path }) => ({ path, status: 403 })));
      const first = watch.tracker.prepare();
      expect(first.inventory.mode).toBe('full');
      hasNoObjects(first.inventory);
      expect((first.inventory as FullInventory).nodes.length).toBeGreaterThan(0);
      first.commit();
      expect(warnings()).toEqual([
        expect.objectContaining({
          forbidden: POLICY_OBJECT_RESOURCES.map(({ path }) => path),
          notServed: [],
          msg: expect.stringContaining('policy objects (Services, PodDisruptionBudgets'),
        }),
      ]);

      // Two kinds allowed: still nothing, since a partial list would read as "none of the others".
      await cluster().kubectl([
        'create',
        'clusterrole',
        `${name}-core`,
        '--verb=get,list,watch',
        '--resource=services,serviceaccounts',
      ]);
      await cluster().kubectl([
        'create',
        'clusterrolebinding',
        `${name}-core`,
        `--clusterrole=${name}-core`,
        `--serviceaccount=${ns}:${name}`,
      ]);
      await vi.waitFor(() => expect(watch.unavailableObjects()).toHaveLength(3), { timeout: 30_000 });
      hasNoObjects(watch.tracker.prepare().inventory);
      expect(watch.tracker.objectsIncludedNow).toBe(false);

      await cluster().kubectl([
        'create',
        'clusterrole',
        `${name}-policy`,
        '--verb=get,list,watch',
        '--resource=poddisruptionbudgets.policy,horizontalpodautoscalers.autoscaling,networkpolicies.networking.k8s.io',
      ]);
      await cluster().kubectl([
        'create',
        'clusterrolebinding',
        `${name}-policy`,
        `--clusterrole=${name}-policy`,
        `--serviceaccount=${ns}:${name}`,
      ]);
      const all = await nextInventory(watch, (inv) => {
        expect(inv.mode).toBe('full');
        expect(inNamespace((inv as FullInventory).objects, ns)).toContainEqual(
          expect.objectContaining({ kind: 'ServiceAccount', name }),
        );
      });
      all.commit();
      expect(watch.unavailableObjects()).toEqual([]);
      // Retried several times meanwhile, and still the one warning.
      expect(warnings()).toHaveLength(1);
      expect(lines.filter((l) => l.msg === 'policy objects are reported again')).toHaveLength(1);
    } finally {
      await watch.stop();
    }
  });
});
