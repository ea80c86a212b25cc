import { describe, expect, it } from 'vitest';
import { cpuMilli, parseQuantity, wholeUnits } from './raw.js';

describe('resource quantities', () => {
  it.each([
    ['250m', 250],
    ['1', 1000],
    ['1.5', 1500],
    ['2k', 2_000_000],
    ['100u', 1],
    ['12345678n', 13],
    ['1e3', 1_000_000],
  ])('cpu %s is %d millicores', (q, milli) => expect(cpuMilli(q)).toBe(milli));

  it.each([
    ['128Mi', 128 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['500M', 500e6],
    ['1000Ki', 1_024_000],
    ['1Ti', 2 ** 40],
    ['4096', 4096],
  ])('memory %s is %d bytes', (q, bytes) => expect(wholeUnits(q)).toBe(bytes));

  it('reads garbage as unknown, never as zero', () => {
    for (const q of ['', 'abc', '1Xi', '--1', null, {}, '1.2.3']) expect(parseQuantity(q)).toBeUndefined();
    expect(cpuMilli('-1')).toBeUndefined();
  });
});
