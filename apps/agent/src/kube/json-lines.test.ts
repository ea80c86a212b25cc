import { describe, expect, it } from 'vitest';
import { LineSplitter } from './json-lines.js';

function split(chunks: (Buffer | string)[], max?: number): string[] {
  const splitter = new LineSplitter(max);
  const lines: string[] = [];
  for (const chunk of chunks) splitter.push(chunk, (line) => lines.push(line));
  splitter.end((line) => lines.push(line));
  return lines;
}

describe('LineSplitter', () => {
  it('joins lines split across chunks and skips blank ones', () => {
    expect(split(['{"type":"ADD', 'ED"}\n\n{"type":', '"DELETED"}\r\n', '{"type":"BOOKMARK"}'])).toEqual([
      '{"type":"ADDED"}',
      '{"type":"DELETED"}',
      '{"type":"BOOKMARK"}',
    ]);
  });

  it('decodes a character split between two chunks', () => {
    const bytes = Buffer.from('{"name":"café"}\n');
    const at = bytes.indexOf(0xc3) + 1;
    expect(split([bytes.subarray(0, at), bytes.subarray(at)])).toEqual(['{"name":"café"}']);
  });

  it('keeps only the unfinished line between chunks and refuses an endless one', () => {
    const splitter = new LineSplitter(10);
    const lines: string[] = [];
    splitter.push('0123456789\nabc', (line) => lines.push(line));
    expect(lines).toEqual(['0123456789']);
    expect(() => splitter.push('defghijk', () => undefined)).toThrow('a line longer than 10 characters');
  });
});
