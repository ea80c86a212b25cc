import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../logger.js';
import { startServer } from '../../main.js';
import { createEmptyPostgresDatabase } from '../../test-support/databases.js';

const key = (): string => randomBytes(32).toString('base64');

describe('notification settings', () => {
  it('reads NIRO_SMTP_URL and NIRO_SMTP_FROM, with one clear line naming a wrong one', () => {
    expect(loadConfig({}).smtp).toBeNull();
    expect(
      loadConfig({ NIRO_SMTP_URL: 'smtp://u:p@mail.example.com:587', NIRO_SMTP_FROM: 'Niro <n@example.com>' }).smtp,
    ).toEqual({
      url: 'smtp://u:p@mail.example.com:587',
      from: 'Niro <n@example.com>',
    });
    const bad: [Record<string, string>, RegExp][] = [
      [
        { NIRO_SMTP_URL: 'https://mail.example.com', NIRO_SMTP_FROM: 'n@example.com' },
        /^NIRO_SMTP_URL: must start with smtp/,
      ],
      [{ NIRO_SMTP_URL: 'not a url p4ssw0rd', NIRO_SMTP_FROM: 'n@example.com' }, /^NIRO_SMTP_URL: is not a URL/],
      [{ NIRO_SMTP_URL: 'smtp://mail.example.com' }, /^NIRO_SMTP_FROM: is required/],
      [{ NIRO_SMTP_FROM: 'n@example.com' }, /^NIRO_SMTP_FROM: is set but NIRO_SMTP_URL is not/],
      [
        { NIRO_SMTP_URL: 'smtp://mail.example.com', NIRO_SMTP_FROM: 'nobody' },
        /^NIRO_SMTP_FROM: "nobody" is not an email/,
      ],
    ];
    for (const [input, message] of bad) {
      let error: unknown;
      try {
        loadConfig(input);
      } catch (err) {
        error = err;
      }
      expect(error instanceof Error ? error.message : '', JSON.stringify(input)).toMatch(message);
      // A password in the URL never ends up in the message.
      expect(error instanceof Error ? error.message : '').not.toContain('p4ssw0rd');
    }
  });

  it('takes a key ring in NIRO_SECRET_KEY and refuses a short or malformed key', () => {
    const ring = `${key()},${key()}`;
    expect(loadConfig({ NIRO_SECRET_KEY: ring }).secretKey).toBe(ring);
    expect(() => loadConfig({ NIRO_SECRET_KEY: randomBytes(16).toString('base64') })).toThrow(/^NIRO_SECRET_KEY: /);
    expect(() => loadConfig({ NIRO_SECRET_KEY: `${key()},short` })).toThrow(/^NIRO_SECRET_KEY: /);
  });

  it.skipIf(inject('postgres').url === null)(
    'warns at start-up on PostgreSQL without NIRO_SECRET_KEY, not with it',
    async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-notif-cfg-'));
      const db = await createEmptyPostgresDatabase();
      const warned = async (env: Record<string, string>): Promise<boolean> => {
        const lines: string[] = [];
        const sink = new Writable({
          write(chunk: Buffer, _enc, cb) {
            lines.push(chunk.toString('utf8'));
            cb();
          },
        });
        const server = await startServer({
          config: { NIRO_PORT: '0', NIRO_DATA_DIR: dataDir, NIRO_DATABASE_URL: db.url, ...env },
          logger: createLogger('info', sink),
        });
        await server.close();
        return lines.some((l) => l.includes('NIRO_SECRET_KEY is not set'));
      };
      try {
        const secret = key();
        expect(await warned({})).toBe(true);
        expect(await warned({ NIRO_SECRET_KEY: secret })).toBe(false);
      } finally {
        await db.dispose();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
  );
});
