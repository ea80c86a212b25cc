import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SECRET_KEY_FILE, SecretBox, SecretBoxError, parseSecretKeys } from './secret-box.js';

const key = (): string => randomBytes(32).toString('base64');

describe('secret box', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-secret-box-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('round-trips and names its key id in a versioned format, never the plain text', () => {
    const box = new SecretBox({ keys: key() });
    const sealed = box.encrypt('https://hooks.slack.com/services/T000/B000/XXXX', 'channel-1');
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(sealed.split('.')[1]).toBe(box.currentKeyId);
    expect(sealed).not.toContain('hooks.slack.com');
    expect(box.decrypt(sealed, 'channel-1')).toBe('https://hooks.slack.com/services/T000/B000/XXXX');
    // A fresh IV each time.
    expect(box.encrypt('same', 'c')).not.toBe(box.encrypt('same', 'c'));
  });

  it('decrypts with a retired key after rotation and encrypts with the new one', () => {
    const oldKey = key();
    const newKey = key();
    const before = new SecretBox({ keys: oldKey });
    const sealedOld = before.encrypt('routing-key-123', 'ch');
    const rotated = new SecretBox({ keys: `${newKey},${oldKey}` });
    expect(rotated.decrypt(sealedOld, 'ch')).toBe('routing-key-123');
    expect(rotated.isStale(sealedOld)).toBe(true);
    const sealedNew = rotated.encrypt('routing-key-123', 'ch');
    expect(rotated.isStale(sealedNew)).toBe(false);
    expect(sealedNew.split('.')[1]).not.toBe(sealedOld.split('.')[1]);
    // Once the old key is dropped from the ring, its values no longer open, with a clear error.
    expect(() => new SecretBox({ keys: newKey }).decrypt(sealedOld, 'ch')).toThrow(/not in the key ring/);
  });

  it('refuses tampered ciphertexts and ciphertexts moved to another context', () => {
    const box = new SecretBox({ keys: key() });
    const sealed = box.encrypt('secret value', 'row-a');
    const [v, id, iv, body] = sealed.split('.');
    const bytes = Buffer.from(body ?? '', 'base64url');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    const flipped = [v, id, iv, bytes.toString('base64url')].join('.');
    expect(() => box.decrypt(flipped, 'row-a')).toThrow(SecretBoxError);
    expect(() => box.decrypt(sealed, 'row-b')).toThrow(/altered or belongs elsewhere/);
    expect(() => box.decrypt(`v2.${id ?? ''}.${iv ?? ''}.${body ?? ''}`, 'row-a')).toThrow(/known version/);
    expect(() => box.decrypt('garbage', 'row-a')).toThrow(SecretBoxError);
  });

  it('creates the key file once, with mode 0600, on first use, and reuses it', () => {
    const dir = path.join(tempDir(), 'data');
    const file = path.join(dir, SECRET_KEY_FILE);
    const first = SecretBox.fromConfig({ secretKey: null, dataDir: dir });
    expect(fs.existsSync(file)).toBe(false);
    const sealed = first.encrypt('hello', 'x');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const content = fs.readFileSync(file, 'utf8');
    // A second process (a restart) reads the same key and opens what the first sealed.
    const second = SecretBox.fromConfig({ secretKey: null, dataDir: dir });
    expect(second.decrypt(sealed, 'x')).toBe('hello');
    expect(fs.readFileSync(file, 'utf8')).toBe(content);
    expect(fs.readdirSync(dir)).toEqual([SECRET_KEY_FILE]);
  });

  it('prefers NIRO_SECRET_KEY over a key file and parses only base64 keys of ≥ 32 bytes', () => {
    const dir = tempDir();
    const box = SecretBox.fromConfig({ secretKey: key(), dataDir: dir });
    box.encrypt('x');
    expect(fs.existsSync(path.join(dir, SECRET_KEY_FILE))).toBe(false);
    expect(parseSecretKeys(key())).toHaveLength(1);
    expect(parseSecretKeys(`${key()}, ${key()}`)).toHaveLength(2);
    expect(parseSecretKeys(randomBytes(16).toString('base64'))).toBeNull();
    expect(parseSecretKeys(`${key()},not base64!`)).toBeNull();
    expect(parseSecretKeys(`${key()},`)).toBeNull();
  });
});
