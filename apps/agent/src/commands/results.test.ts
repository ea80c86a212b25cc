import type { ObjectResult } from '@niro/protocol';
import { describe, expect, it } from 'vitest';
import { objectResult, objectsOutcome, statusOf, toResultBody } from './results.js';

const many = (n: number, message: string): ObjectResult[] =>
  Array.from({ length: n }, (_, i) =>
    objectResult({ kind: 'ConfigMap', namespace: 'ns', name: `cm-${i}` }, 'failed', message),
  );

const size = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

describe('results', () => {
  it('is succeeded when nothing failed, failed when everything did, partial in between', () => {
    const ok = objectResult({ kind: 'ConfigMap', name: 'a' }, 'created');
    const bad = objectResult({ kind: 'ConfigMap', name: 'b' }, 'failed', 'no');
    expect(statusOf([])).toBe('succeeded');
    expect(statusOf([ok])).toBe('succeeded');
    expect(statusOf([ok, bad])).toBe('partial');
    expect(statusOf([bad])).toBe('failed');
    expect(objectsOutcome([ok, bad]).error).toEqual({ code: 'objects_failed', message: '1 of 2 objects failed' });
  });

  it("clips an object's message to the protocol's 4,096 characters", () => {
    const result = objectResult({ kind: 'ConfigMap', name: 'a' }, 'failed', 'x'.repeat(10_000));
    expect(result.message).toHaveLength(4096);
  });

  it('keeps a result as it is when it fits', () => {
    const objects = many(3, 'short');
    expect(toResultBody(objectsOutcome(objects), 1024 * 1024)).toEqual({
      status: 'failed',
      result: { objects },
      error: { code: 'objects_failed', message: '3 of 3 objects failed' },
    });
  });

  it('shortens messages first, then leaves out the last objects, to stay under the limit', () => {
    const limit = 64 * 1024;
    const shortened = toResultBody(objectsOutcome(many(100, 'm'.repeat(2000))), limit);
    expect(size(shortened)).toBeLessThanOrEqual(limit);
    const objects = shortened.result?.objects;
    expect(Array.isArray(objects) && objects.length).toBe(100);
    expect(JSON.stringify(objects)).not.toContain('m'.repeat(300));

    const dropped = toResultBody(objectsOutcome(many(5000, 'm'.repeat(2000))), limit);
    expect(size(dropped)).toBeLessThanOrEqual(limit);
    const kept = dropped.result?.objects;
    expect(Array.isArray(kept)).toBe(true);
    const keptCount = Array.isArray(kept) ? kept.length : 0;
    expect(keptCount).toBeGreaterThan(0);
    expect(dropped.result?.omittedObjects).toBe(5000 - keptCount);
    expect(dropped.status).toBe('failed');
  });
});
