import { describe, expect, it } from 'vitest';
import { KeyedCache } from './keyed-cache.js';
import { objectKey } from './kube-object.js';

type Pod = { phase: string };

const pod = (name: string, phase: string, resourceVersion = '1', extra: Record<string, unknown> = {}): unknown => ({
  metadata: { name, namespace: 'ns', resourceVersion, ...extra },
  status: { phase },
});

/** Keeps only the phase; pods in phase "Ignored" are dropped. */
function toPod(obj: unknown): { key: string; value: Pod } | null {
  const key = objectKey(obj);
  const status = typeof obj === 'object' && obj !== null && 'status' in obj ? obj.status : undefined;
  const phase = typeof status === 'object' && status !== null && 'phase' in status ? status.phase : undefined;
  if (key === null || typeof phase !== 'string' || phase === 'Ignored') return null;
  return { key, value: { phase } };
}

function cacheWithLog(): { cache: KeyedCache<Pod>; changes: [string, string | undefined][] } {
  const changes: [string, string | undefined][] = [];
  const cache = new KeyedCache(toPod, (key, value) => changes.push([key, value?.phase]));
  return { cache, changes };
}

describe('KeyedCache', () => {
  it('reports a change only when the converted value differs', () => {
    const { cache, changes } = cacheWithLog();
    cache.apply('ADDED', pod('a', 'Pending'));
    cache.apply('MODIFIED', pod('a', 'Pending', '2', { labels: { irrelevant: 'x' } }));
    cache.apply('MODIFIED', pod('a', 'Running', '3'));
    expect(changes).toEqual([
      ['ns/a', 'Pending'],
      ['ns/a', 'Running'],
    ]);
  });

  it('returns resourceVersions, bookmarks included, and removes deleted or dropped objects', () => {
    const { cache, changes } = cacheWithLog();
    expect(cache.apply('ADDED', pod('a', 'Running', '5'))).toBe('5');
    expect(cache.apply('BOOKMARK', { metadata: { resourceVersion: '9' } })).toBe('9');
    cache.apply('ADDED', pod('b', 'Running'));
    cache.apply('MODIFIED', pod('b', 'Ignored'));
    cache.apply('DELETED', pod('a', 'Running'));
    cache.apply('DELETED', pod('never-seen', 'Running'));
    expect(changes).toEqual([
      ['ns/a', 'Running'],
      ['ns/b', 'Running'],
      ['ns/b', undefined],
      ['ns/a', undefined],
    ]);
    expect(cache.entries.size).toBe(0);
  });

  it('turns a relist into the differences: removed, changed and new keys only', () => {
    const { cache, changes } = cacheWithLog();
    const first = cache.beginRelist();
    first.add([pod('a', 'Running'), pod('b', 'Running')]);
    first.add([pod('c', 'Pending')]);
    first.commit();
    changes.length = 0;

    const second = cache.beginRelist();
    second.add([pod('a', 'Running', '7'), pod('c', 'Running')]);
    // Nothing changes until the relist is complete.
    expect(cache.entries.get('ns/b')).toEqual({ phase: 'Running' });
    second.add([pod('d', 'Pending'), pod('e', 'Ignored')]);
    second.commit();
    expect(changes).toEqual([
      ['ns/b', undefined],
      ['ns/c', 'Running'],
      ['ns/d', 'Pending'],
    ]);
    expect([...cache.entries.keys()].sort()).toEqual(['ns/a', 'ns/c', 'ns/d']);
  });
});
