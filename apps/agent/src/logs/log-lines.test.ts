import { LOG_LIMITS } from '@niro/protocol/commands';
import { describe, expect, it } from 'vitest';
import { LogBatcher, LogLineSplitter } from './log-lines.js';

function split(chunks: (Buffer | string)[], lineBytes: number = LOG_LIMITS.lineBytes): string[] {
  const splitter = new LogLineSplitter(lineBytes);
  const lines: string[] = [];
  for (const chunk of chunks) splitter.push(Buffer.from(chunk), (line) => lines.push(line));
  splitter.end((line) => lines.push(line));
  return lines;
}

function batch(lines: string[], limits: { chunkBytes: number; chunkLines: number }): string[][] {
  const batches: string[][] = [];
  const batcher = new LogBatcher(limits, (b) => batches.push(b));
  for (const line of lines) batcher.add(line);
  batcher.flush();
  return batches;
}

describe('LogLineSplitter', () => {
  it('joins lines split across chunks, keeps blank lines and drops the CR of CRLF endings', () => {
    expect(split(['GET /health', 'z 200\n\nPOST /orders 201\r\n', 'done\n'])).toEqual([
      'GET /healthz 200',
      '',
      'POST /orders 201',
      'done',
    ]);
  });

  it('keeps a last line that has no newline when the log ends', () => {
    expect(split(['first\nsecond, still being written'])).toEqual(['first', 'second, still being written']);
    expect(split(['only\n'])).toEqual(['only']);
    expect(split([])).toEqual([]);
  });

  it('keeps a character whose bytes arrive in different chunks intact', () => {
    const text = Buffer.from('préço 🚀 ok\n');
    // Every cut position, including inside the 2-byte "é"/"ç" and the 4-byte rocket.
    for (let cut = 1; cut < text.length; cut++) {
      expect(split([text.subarray(0, cut), text.subarray(cut)])).toEqual(['préço 🚀 ok']);
    }
    const bytes = [...text].map((b) => Buffer.from([b]));
    expect(split(bytes)).toEqual(['préço 🚀 ok']);
  });

  it('cuts a long line to the byte limit, never inside a character, and says how much was dropped', () => {
    expect(split(['abcdefghij\nshort\n'], 4)).toEqual(['abcd…[truncated 6 bytes]', 'shor…[truncated 1 bytes]']);
    // "€" is 3 bytes: 5 bytes would end inside the second one, so only one is kept.
    expect(split(['€€€\n'], 5)).toEqual(['€…[truncated 6 bytes]']);
    // A long line spread over many chunks, last one without a newline.
    const long = 'x'.repeat(LOG_LIMITS.lineBytes + 1000);
    const chunks = [long.slice(0, 5000), long.slice(5000, 17_000), long.slice(17_000)];
    const [line] = split(chunks);
    expect(line).toBe(`${'x'.repeat(LOG_LIMITS.lineBytes)}…[truncated 1000 bytes]`);
  });

  it('cut lines still fit the protocol: at most lineBytes + 64 characters', () => {
    const [line] = split(['🚀'.repeat(LOG_LIMITS.lineBytes)]);
    expect(line?.length).toBeLessThanOrEqual(LOG_LIMITS.lineBytes + 64);
    expect(Buffer.byteLength(line ?? '')).toBeLessThanOrEqual(LOG_LIMITS.lineBytes + 64);
  });
});

describe('LogBatcher', () => {
  it('closes a batch at chunkLines lines', () => {
    const lines = Array.from({ length: 2500 }, (_, i) => `line ${i}`);
    const batches = batch(lines, { chunkBytes: LOG_LIMITS.chunkBytes, chunkLines: LOG_LIMITS.chunkLines });
    expect(batches.map((b) => b.length)).toEqual([2000, 500]);
    expect(batches.flat()).toEqual(lines);
  });

  it('closes a batch before its lines pass chunkBytes', () => {
    const line = 'é'.repeat(5000); // 10,000 bytes
    const batches = batch(
      Array.from({ length: 20 }, () => line),
      { chunkBytes: 64 * 1024, chunkLines: 2000 },
    );
    expect(batches.map((b) => b.length)).toEqual([6, 6, 6, 2]);
    for (const b of batches) expect(Buffer.byteLength(b.join(''))).toBeLessThanOrEqual(64 * 1024);
  });

  it('sends a line larger than a batch on its own', () => {
    expect(batch(['a', 'b'.repeat(30), 'c'], { chunkBytes: 20, chunkLines: 10 })).toEqual([
      ['a'],
      ['b'.repeat(30)],
      ['c'],
    ]);
  });
});
