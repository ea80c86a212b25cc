import type { CommandResultBody } from '@niro/protocol';
import { describe, expect, it } from 'vitest';
import { CommandLedger } from './ledger.js';

const body = (tag: string, padding = 0): CommandResultBody => ({
  status: 'succeeded',
  result: { tag, padding: 'p'.repeat(padding) },
});

describe('CommandLedger', () => {
  it('runs an id once and answers repeats with the first result', async () => {
    const ledger = new CommandLedger();
    let runs = 0;
    const execute = async (): Promise<CommandResultBody> => body(`run ${++runs}`);
    const first = ledger.run('c1', execute);
    const second = ledger.run('c1', execute);
    expect([first.repeated, second.repeated]).toEqual([false, true]);
    expect(await second.result).toEqual(body('run 1'));
    expect((await ledger.run('c1', execute).result).result?.tag).toBe('run 1');
    expect(runs).toBe(1);
  });

  it('forgets the oldest ids beyond its size', async () => {
    const ledger = new CommandLedger({ maxEntries: 3 });
    let runs = 0;
    const execute = async (): Promise<CommandResultBody> => body(`run ${++runs}`);
    for (const id of ['a', 'b', 'c', 'd']) await ledger.run(id, execute).result;
    expect(ledger.size).toBe(3);
    expect(ledger.run('d', execute).repeated).toBe(true);
    expect(ledger.run('a', execute).repeated).toBe(false);
    expect(runs).toBe(5);
  });

  it('keeps only the status and error of old results past its byte budget, still without running them again', async () => {
    const ledger = new CommandLedger({ maxResultBytes: 5_000 });
    const failed: CommandResultBody = {
      status: 'partial',
      result: { big: 'x'.repeat(3_000) },
      error: { code: 'objects_failed', message: '1 of 2 objects failed' },
    };
    await ledger.run('old', async () => failed).result;
    await ledger.run('new', async () => body('new', 3_000)).result;
    const old = ledger.run('old', async () => body('second run'));
    expect(old.repeated).toBe(true);
    expect(await old.result).toEqual({ status: 'partial', result: { resultDropped: true }, error: failed.error });
    expect((await ledger.run('new', async () => body('again')).result).result?.tag).toBe('new');
  });
});
