import { Value } from 'typebox/value';
import { Heartbeat, podKey, type DeltaInventory } from '@niro/protocol';
import { describe, expect, it } from 'vitest';
import {
  buildDeltaHeartbeat,
  buildFullHeartbeat,
  buildSameHeartbeat,
  diffInventory,
  generateClusterInventory,
  generatePolicyObjects,
  generateUsage,
  generateWarningEvents,
  hashInventory,
  mutateInventory,
  toFullInventory,
  type ClusterInventory,
} from './inventory.js';
import { createRng } from './rng.js';

/** What the server does with a delta; written here independently of the testkit's own helper. */
function applyDelta(inv: ClusterInventory, delta: DeltaInventory): ClusterInventory {
  const nodes = new Map(inv.nodes.map((n) => [n.name, n]));
  const pods = new Map(inv.pods.map((p) => [`${p.namespace}/${p.name}`, p]));
  const workloads = new Map(inv.workloads.map((w) => [`${w.kind}/${w.namespace}/${w.name}`, w]));
  for (const k of delta.remove.nodes ?? []) nodes.delete(k);
  for (const k of delta.remove.pods ?? []) pods.delete(k);
  for (const k of delta.remove.workloads ?? []) workloads.delete(k);
  for (const n of delta.upsert.nodes ?? []) nodes.set(n.name, n);
  for (const p of delta.upsert.pods ?? []) pods.set(`${p.namespace}/${p.name}`, p);
  for (const w of delta.upsert.workloads ?? []) workloads.set(`${w.kind}/${w.namespace}/${w.name}`, w);
  const out: ClusterInventory = {
    nodes: [...nodes.values()],
    pods: [...pods.values()],
    workloads: [...workloads.values()],
  };
  if (inv.objects !== undefined || delta.upsert.objects !== undefined) {
    const objects = new Map((inv.objects ?? []).map((o) => [`${o.kind}/${o.namespace}/${o.name}`, o]));
    for (const k of delta.remove.objects ?? []) objects.delete(k);
    for (const o of delta.upsert.objects ?? []) objects.set(`${o.kind}/${o.namespace}/${o.name}`, o);
    out.objects = [...objects.values()];
  }
  return out;
}

const shuffle = <T>(items: T[], seed: number): T[] => {
  const rng = createRng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

describe('generateClusterInventory', () => {
  it('is a pure function of its options', () => {
    const a = generateClusterInventory({ nodes: 4, pods: 120, seed: 'edge-lisbon-03', crashloopRate: 0.1 });
    const b = generateClusterInventory({ nodes: 4, pods: 120, seed: 'edge-lisbon-03', crashloopRate: 0.1 });
    expect(b).toEqual(a);
    expect(hashInventory(b)).toBe(hashInventory(a));
    const other = generateClusterInventory({ nodes: 4, pods: 120, seed: 'edge-lisbon-04', crashloopRate: 0.1 });
    expect(hashInventory(other)).not.toBe(hashInventory(a));
  });

  it('produces exactly the requested nodes and pods, with k3s system pods and owned app pods', () => {
    const inv = generateClusterInventory({ nodes: 3, pods: 60, seed: 7, clusterName: 'factory-ulm-01' });
    expect(inv.nodes.map((n) => n.name)).toEqual([
      'factory-ulm-01-server-1',
      'factory-ulm-01-worker-1',
      'factory-ulm-01-worker-2',
    ]);
    expect(inv.nodes[0]!.roles).toContain('control-plane');
    expect(inv.nodes[0]!.kubeletVersion).toMatch(/^v1\.31\.\d+\+k3s1$/);
    expect(inv.pods).toHaveLength(60);
    expect(new Set(inv.pods.map(podKey)).size).toBe(60);
    const system = inv.pods.filter((p) => p.namespace === 'kube-system').map((p) => p.name);
    for (const prefix of ['coredns-', 'traefik-', 'metrics-server-', 'local-path-provisioner-', 'svclb-traefik-']) {
      expect(system.some((n) => n.startsWith(prefix))).toBe(true);
    }
    for (const pod of inv.pods.filter((p) => p.owner?.kind === 'Deployment')) {
      expect(pod.name).toMatch(new RegExp(`^${pod.owner!.name}-[a-z0-9]{9,10}-[a-z0-9]{5}$`));
    }
    // Every owned pod belongs to a workload whose replica count matches.
    for (const w of inv.workloads) {
      const owned = inv.pods.filter((p) => p.namespace === w.namespace && p.owner?.name === w.name);
      expect(owned).toHaveLength(w.replicas);
    }
    expect(inv.workloads.some((w) => w.kind === 'DaemonSet')).toBe(true);
  });

  it('puts the requested share of application pods into CrashLoopBackOff', () => {
    const inv = generateClusterInventory({ nodes: 10, pods: 2000, seed: 1, crashloopRate: 0.1 });
    const looping = inv.pods.filter((p) => p.containers.some((x) => x.reason === 'CrashLoopBackOff'));
    expect(looping.length).toBeGreaterThan(120);
    expect(looping.length).toBeLessThan(280);
    for (const p of looping) {
      const ctr = p.containers.find((x) => x.reason === 'CrashLoopBackOff')!;
      expect(ctr.state).toBe('waiting');
      expect(ctr.ready).toBe(false);
      expect(ctr.restarts).toBeGreaterThan(0);
    }
    const healthy = generateClusterInventory({ nodes: 10, pods: 500, seed: 1 });
    expect(healthy.pods.filter((p) => p.containers.some((x) => x.state === 'waiting'))).toHaveLength(0);
  });

  it('makes heartbeats that satisfy the protocol schema', () => {
    const inv = generateClusterInventory({ nodes: 2, pods: 40, seed: 3, crashloopRate: 0.2, pendingRate: 0.1 });
    const next = mutateInventory(inv, createRng(1), { restartChance: 1, replaceChance: 1 });
    const events = generateWarningEvents(inv);
    expect(events.some((e) => e.reason === 'BackOff')).toBe(true);
    const beats = [
      buildFullHeartbeat(inv, { seq: 0, usage: generateUsage(inv), events }),
      buildDeltaHeartbeat(inv, next, { seq: 1 }),
      buildSameHeartbeat(next, { seq: 2 }),
    ];
    for (const hb of beats) {
      expect([...Value.Errors(Heartbeat, JSON.parse(JSON.stringify(hb)))]).toEqual([]);
    }
  });
});

describe('hashInventory', () => {
  it('does not depend on list order or property order', () => {
    const inv = generateClusterInventory({ nodes: 3, pods: 50, seed: 11 });
    const reordered: ClusterInventory = {
      nodes: shuffle(inv.nodes, 1),
      pods: shuffle(inv.pods, 2).map((p) => Object.fromEntries(Object.entries(p).reverse()) as typeof p),
      workloads: shuffle(inv.workloads, 3),
    };
    expect(hashInventory(reordered)).toBe(hashInventory(inv));
    expect(hashInventory(inv)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes when any field changes', () => {
    const inv = generateClusterInventory({ nodes: 1, pods: 10, seed: 5 });
    const pod = inv.pods[3]!;
    const changed = {
      ...inv,
      pods: inv.pods.map((p) =>
        p === pod ? { ...p, containers: p.containers.map((x) => ({ ...x, restarts: x.restarts + 1 })) } : p,
      ),
    };
    expect(hashInventory(changed)).not.toBe(hashInventory(inv));
  });
});

describe('diffInventory', () => {
  it('round-trips: applying the delta to the previous inventory gives the next one', () => {
    let prev = generateClusterInventory({ nodes: 4, pods: 80, seed: 21, crashloopRate: 0.05 });
    const rng = createRng(99);
    let changed = 0;
    for (let i = 0; i < 40; i++) {
      const next = mutateInventory(prev, rng, { now: Date.parse('2026-03-01T12:00:00Z') + i * 15_000 });
      const delta = diffInventory(prev, next);
      expect(delta.baseHash).toBe(hashInventory(prev));
      expect(delta.hash).toBe(hashInventory(next));
      expect(hashInventory(applyDelta(prev, delta))).toBe(delta.hash);
      if (next !== prev) {
        changed++;
      } else {
        expect(delta.upsert).toEqual({});
        expect(delta.remove).toEqual({});
      }
      prev = next;
    }
    expect(changed).toBeGreaterThan(0);
  });

  it('keys removals as "name", "ns/name" and "Kind/ns/name"', () => {
    const prev = generateClusterInventory({ nodes: 3, pods: 40, seed: 8 });
    const next: ClusterInventory = {
      nodes: prev.nodes.slice(0, 2),
      pods: prev.pods.slice(1),
      workloads: prev.workloads.slice(1),
    };
    const delta = diffInventory(prev, next);
    const w = prev.workloads[0]!;
    expect(delta.remove).toEqual({
      nodes: [prev.nodes[2]!.name],
      pods: [`${prev.pods[0]!.namespace}/${prev.pods[0]!.name}`],
      workloads: [`${w.kind}/${w.namespace}/${w.name}`],
    });
    expect(delta.upsert).toEqual({});
    expect(hashInventory(applyDelta(prev, delta))).toBe(hashInventory(next));
  });
});

describe('mutateInventory', () => {
  it('never modifies its input and returns the same object when nothing changed', () => {
    const inv = generateClusterInventory({ nodes: 2, pods: 30, seed: 2, crashloopRate: 0.2 });
    const before = JSON.stringify(inv);
    const same = mutateInventory(inv, createRng(1), { restartChance: 0, replaceChance: 0, crashloopRestartChance: 0 });
    expect(same).toBe(inv);
    const changed = mutateInventory(inv, createRng(1), {
      restartChance: 1,
      replaceChance: 1,
      crashloopRestartChance: 1,
    });
    expect(changed).not.toBe(inv);
    expect(JSON.stringify(inv)).toBe(before);
    expect(changed.pods).toHaveLength(inv.pods.length);
  });
});

describe('policy objects in simulated inventories', () => {
  const inv = generateClusterInventory({ nodes: 2, pods: 40, seed: 'objects' });

  it('leaves inventories without objects exactly as before: no objects in full or delta, same hash', () => {
    const full = toFullInventory(inv);
    expect('objects' in full).toBe(false);
    const next = mutateInventory(inv, createRng(3), { restartChance: 1 });
    const delta = diffInventory(inv, next);
    expect('objects' in delta.upsert || 'objects' in delta.remove).toBe(false);
    expect(full.hash).toBe(hashInventory({ nodes: inv.nodes, pods: inv.pods, workloads: inv.workloads }));
  });

  it('sends objects in full inventories and deltas, hashed with their own section', () => {
    const objects = generatePolicyObjects(inv);
    expect(objects.some((o) => o.kind === 'Service')).toBe(true);
    expect(objects.some((o) => o.kind === 'PodDisruptionBudget')).toBe(true);
    expect(objects.some((o) => o.kind === 'ServiceAccount' && o.name === 'default')).toBe(true);
    const withObjects: ClusterInventory = { ...inv, objects };
    const full = toFullInventory(withObjects);
    expect(full.objects).toEqual(objects);
    expect(full.hash).not.toBe(hashInventory(inv));
    // Reporting no objects is not the same as not reporting them.
    expect(hashInventory({ ...inv, objects: [] })).not.toBe(hashInventory(inv));

    const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget');
    const next: ClusterInventory = {
      ...withObjects,
      objects: [
        ...objects.filter((o) => o !== pdb),
        { kind: 'NetworkPolicy', namespace: 'default', name: 'deny', spec: { podSelector: {} } },
      ],
    };
    const delta = diffInventory(withObjects, next);
    expect(delta.upsert.objects?.map((o) => o.name)).toEqual(['deny']);
    expect(delta.remove.objects).toEqual([`PodDisruptionBudget/${pdb?.namespace}/${pdb?.name}`]);
    expect(delta.baseHash).toBe(full.hash);
    expect(hashInventory(applyDelta(withObjects, delta))).toBe(delta.hash);
    const stable = mutateInventory(withObjects, createRng(9), { restartChance: 1 });
    expect(stable.objects).toBe(objects);
  });
});
