import type { DeltaInventory, FullInventory, Node, Pod } from '@niro/protocol';
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
});
