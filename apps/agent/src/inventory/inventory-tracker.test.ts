import type { DeltaInventory, FullInventory, Node, Pod, PolicyObject } from '@niro/protocol';
import { hashInventory } from '@niro/protocol/inventory-hash';
import { describe, expect, it } from 'vitest';
import { InventoryTracker } from './inventory-tracker.js';

const node = (name: string, ready = true): Node => ({
  name,
  ready,
  roles: [],
  kubeletVersion: 'v1.35.8',
  capacity: { cpuMilli: 2000 },
  allocatable: { cpuMilli: 2000 },
  conditions: [],
  unschedulable: false,
});
const pod = (name: string, restarts = 0): Pod => ({
  namespace: 'shop',
  name,
  uid: `uid-${name}`,
  phase: 'Running',
  imagePullSecrets: [],
  containers: [
    {
      name: 'app',
      image: 'shop/api:1',
      ready: true,
      restarts,
      state: 'running',
      requests: {},
      limits: {},
      probes: { liveness: false, readiness: false, startup: false },
      privileged: false,
    },
  ],
});

function tracked(): InventoryTracker {
  const t = new InventoryTracker();
  t.setPodsIncluded(true);
  t.set('nodes', 'n1', node('n1'));
  t.set('pods', 'shop/a', pod('a'));
  t.set('pods', 'shop/b', pod('b'));
  return t;
}

describe('inventory tracker', () => {
  it('starts with a full inventory whose hash matches the shared hash function', () => {
    const t = tracked();
    const first = t.prepare();
    const inv = first.inventory as FullInventory;
    expect(inv.mode).toBe('full');
    expect(inv.pods?.map((p) => p.name).sort()).toEqual(['a', 'b']);
    expect(inv.hash).toBe(hashInventory({ nodes: [node('n1')], pods: [pod('b'), pod('a')], workloads: [] }));
  });

  it('sends same when nothing changed, and a delta of exactly the changed items otherwise', () => {
    const t = tracked();
    const first = t.prepare();
    first.commit();
    expect(t.prepare().inventory).toEqual({ mode: 'same', hash: first.inventory.hash });

    t.set('pods', 'shop/a', pod('a', 1));
    t.set('pods', 'shop/b', undefined);
    t.set('nodes', 'n1', node('n1')); // equal content: no change
    const delta = t.prepare().inventory as DeltaInventory;
    expect(delta).toMatchObject({
      mode: 'delta',
      baseHash: first.inventory.hash,
      upsert: { pods: [pod('a', 1)] },
      remove: { pods: ['shop/b'] },
    });
    expect(delta.upsert.nodes).toBeUndefined();
    expect(delta.hash).toBe(hashInventory({ nodes: [node('n1')], pods: [pod('a', 1)], workloads: [] }));
  });

  it('a change undone before the next heartbeat sends same', () => {
    const t = tracked();
    t.prepare().commit();
    t.set('pods', 'shop/a', pod('a', 5));
    t.set('pods', 'shop/a', pod('a'));
    expect(t.prepare().inventory.mode).toBe('same');
  });

  it('keeps the changes of a failed heartbeat for the next one, based on what the server really holds', () => {
    const t = tracked();
    const first = t.prepare();
    first.commit();
    t.set('pods', 'shop/a', pod('a', 1));
    const lost = t.prepare();
    lost.abort();
    t.set('pods', 'shop/c', pod('c'));
    const retry = t.prepare().inventory as DeltaInventory;
    expect(retry.baseHash).toBe(first.inventory.hash);
    expect(retry.upsert.pods?.map((p) => p.name).sort()).toEqual(['a', 'c']);
  });

  it('changes arriving while a heartbeat is in flight go into the next delta', () => {
    const t = tracked();
    t.prepare().commit();
    t.set('pods', 'shop/a', pod('a', 1));
    const inFlight = t.prepare();
    t.set('pods', 'shop/a', pod('a', 2));
    inFlight.commit();
    const next = t.prepare().inventory as DeltaInventory;
    expect(next.baseHash).toBe(inFlight.inventory.hash);
    expect(next.upsert.pods).toEqual([pod('a', 2)]);
  });

  it('sends full after resendFull and when the pods capability switches, leaving pods out while it is off', () => {
    const t = tracked();
    t.prepare().commit();
    t.forgetServerState();
    const again = t.prepare();
    expect(again.inventory.mode).toBe('full');
    again.commit();

    t.setPodsIncluded(false);
    const off = t.prepare().inventory as FullInventory;
    expect(off.mode).toBe('full');
    expect(off.pods).toBeUndefined();
    expect(off.hash).toBe(hashInventory({ nodes: [node('n1')], workloads: [] }));
  });

  describe('policy objects', () => {
    const hpa = (maxReplicas: number): PolicyObject => ({
      kind: 'HorizontalPodAutoscaler',
      namespace: 'shop',
      name: 'api',
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' }, minReplicas: 2, maxReplicas },
    });
    const pdb: PolicyObject = {
      kind: 'PodDisruptionBudget',
      namespace: 'shop',
      name: 'api',
      spec: { selector: { matchLabels: { app: 'api' } }, maxUnavailable: 1 },
    };

    it('are left out, from the inventory and its hash, until they are switched on', () => {
      const t = tracked();
      t.set('objects', 'HorizontalPodAutoscaler/shop/api', hpa(5));
      const off = t.prepare();
      expect((off.inventory as FullInventory).objects).toBeUndefined();
      expect(off.inventory.hash).toBe(
        hashInventory({ nodes: [node('n1')], pods: [pod('a'), pod('b')], workloads: [] }),
      );
      off.commit();
      // A change while off is no change the server can see.
      t.set('objects', 'PodDisruptionBudget/shop/api', pdb);
      expect(t.prepare().inventory.mode).toBe('same');
    });

    it('switching them on sends full with every object, then deltas of the changed ones keyed Kind/ns/name', () => {
      const t = tracked();
      t.set('objects', 'HorizontalPodAutoscaler/shop/api', hpa(5));
      t.prepare().commit();
      t.setObjectsIncluded(true);
      const on = t.prepare();
      const full = on.inventory as FullInventory;
      expect(full.mode).toBe('full');
      expect(full.objects).toEqual([hpa(5)]);
      expect(full.hash).toBe(
        hashInventory({ nodes: [node('n1')], pods: [pod('a'), pod('b')], workloads: [], objects: [hpa(5)] }),
      );
      on.commit();

      t.set('objects', 'HorizontalPodAutoscaler/shop/api', hpa(5)); // equal content: no change
      expect(t.prepare().inventory.mode).toBe('same');

      t.set('objects', 'HorizontalPodAutoscaler/shop/api', undefined);
      t.set('objects', 'PodDisruptionBudget/shop/api', pdb);
      const delta = t.prepare().inventory as DeltaInventory;
      expect(delta).toMatchObject({
        mode: 'delta',
        upsert: { objects: [pdb] },
        remove: { objects: ['HorizontalPodAutoscaler/shop/api'] },
      });
      expect(delta.upsert.pods).toBeUndefined();
      expect(delta.hash).toBe(
        hashInventory({ nodes: [node('n1')], pods: [pod('a'), pod('b')], workloads: [], objects: [pdb] }),
      );
    });

    it('an agent that reports objects sends objects: [] when there are none', () => {
      const t = new InventoryTracker();
      t.setObjectsIncluded(true);
      const inv = t.prepare().inventory as FullInventory;
      expect(inv.objects).toEqual([]);
      expect(inv.hash).toBe(hashInventory({ nodes: [], workloads: [], objects: [] }));
      expect(inv.hash).not.toBe(hashInventory({ nodes: [], workloads: [] }));
    });

    it('switching them off sends full without objects', () => {
      const t = tracked();
      t.setObjectsIncluded(true);
      t.set('objects', 'PodDisruptionBudget/shop/api', pdb);
      t.prepare().commit();
      t.setObjectsIncluded(false);
      const off = t.prepare().inventory as FullInventory;
      expect(off.mode).toBe('full');
      expect(off.objects).toBeUndefined();
    });

    it('a heartbeat in flight while objects switch on commits nothing, so the next one is full', () => {
      const t = tracked();
      t.set('objects', 'PodDisruptionBudget/shop/api', pdb);
      t.prepare().commit();
      t.set('pods', 'shop/a', pod('a', 1));
      const inFlight = t.prepare();
      expect(inFlight.inventory.mode).toBe('delta');
      t.setObjectsIncluded(true);
      inFlight.commit();
      const next = t.prepare().inventory as FullInventory;
      expect(next.mode).toBe('full');
      expect(next.objects).toEqual([pdb]);
    });
  });
});
