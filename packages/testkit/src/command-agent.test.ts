import { describe, expect, it } from 'vitest';
import { CommandLedger, peakInWindow, reconnectDelayMs } from './command-agent.js';

describe('reconnectDelayMs', () => {
  it('doubles from 1 s up to the 60 s cap without jitter', () => {
    const fixed = { baseMs: 1_000, capMs: 60_000, jitter: false };
    expect([0, 1, 2, 3, 5, 6, 7, 40].map((n) => reconnectDelayMs(n, fixed))).toEqual([
      1_000, 2_000, 4_000, 8_000, 32_000, 60_000, 60_000, 60_000,
    ]);
  });

  it('draws uniformly below the ceiling with full jitter', () => {
    const jittered = { baseMs: 1_000, capMs: 60_000, jitter: true };
    expect(reconnectDelayMs(3, jittered, () => 0)).toBe(0);
    expect(reconnectDelayMs(3, jittered, () => 0.5)).toBe(4_000);
    expect(reconnectDelayMs(3, jittered, () => 0.999_999)).toBe(7_999);
    expect(reconnectDelayMs(10, jittered, () => 0.999_999)).toBe(59_999);
  });
});

describe('CommandLedger', () => {
  it('runs a command once; a redelivery re-sends the first result instead', () => {
    const ledger = new CommandLedger();
    expect(ledger.received('c1')).toEqual({ action: 'execute' });
    // Redelivered while still running: its result goes out when done.
    expect(ledger.received('c1')).toEqual({ action: 'running' });
    ledger.executed('c1', { status: 'succeeded', result: { pong: true } });
    expect(ledger.received('c1')).toEqual({
      action: 'resend',
      result: { status: 'succeeded', result: { pong: true } },
    });
    expect(ledger.deliveries('c1')).toBe(3);
    expect(ledger.effects('c1')).toBe(1);
  });

  it('keeps results until the server confirms or refuses them', () => {
    const ledger = new CommandLedger();
    for (const id of ['a', 'b', 'c']) {
      ledger.received(id);
      ledger.executed(id, { status: 'succeeded' });
    }
    ledger.received('d');
    expect(ledger.unconfirmed().map(([id]) => id)).toEqual(['a', 'b', 'c']);
    ledger.acknowledged('a', true);
    ledger.refused('b');
    expect(ledger.unconfirmed().map(([id]) => id)).toEqual(['c']);
  });
});

describe('peakInWindow', () => {
  it('finds the busiest window of a sorted list', () => {
    expect(peakInWindow([], 1_000)).toBe(0);
    expect(peakInWindow([0, 100, 999, 1_000, 1_500, 1_600, 1_700], 1_000)).toBe(5);
    expect(peakInWindow([0, 5_000, 10_000], 1_000)).toBe(1);
  });
});
