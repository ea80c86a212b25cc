import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Secrets at rest (channel URLs with tokens, routing keys, signing secrets): AES-256-GCM with a
 * key ring. The first key encrypts; every key decrypts, so a key can be rotated by putting the
 * new one first and keeping the old one until everything was re-encrypted. See
 * docs/adr/0008-secrets-at-rest.md.
 *
 * Ciphertext: `v1.<keyId>.<iv>.<ciphertext+tag>` (base64url parts). The key id names which key of
 * the ring sealed it, so decryption never has to guess.
 */

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** The generated key file in the data dir when NIRO_SECRET_KEY is unset. */
export const SECRET_KEY_FILE = 'secret.key';
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

export class SecretBoxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretBoxError';
  }
}

type RingKey = { id: string; key: Buffer };

/** Where the keys come from: NIRO_SECRET_KEY (comma-separated base64 keys) or a file in the data dir. */
export type SecretKeySource = { keys: string } | { keyFile: string };

/** Parses `NIRO_SECRET_KEY`: comma-separated base64 keys of at least 32 bytes each; null when one is not. */
export function parseSecretKeys(value: string): Buffer[] | null {
  const parts = value.split(',').map((p) => p.trim());
  const keys: Buffer[] = [];
  for (const part of parts) {
    if (!BASE64.test(part)) return null;
    const raw = Buffer.from(part, 'base64');
    if (raw.length < 32) return null;
    keys.push(raw);
  }
  return keys.length > 0 ? keys : null;
}

function ringKey(raw: Buffer): RingKey {
  // Keys of any length ≥ 32 bytes become one 256-bit AES key; the id is a short hash of that key,
  // which says which key sealed a value without revealing anything usable about it.
  const key = Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), 'niro secret-box v1', 32));
  const id = createHash('sha256').update('niro key id').update(key).digest('base64url').slice(0, 8);
  return { id, key };
}

/**
 * Reads the key file, or creates it once (mode 0600) with 32 random bytes. Creation writes a
 * temporary file and hard-links it into place, so two processes starting together agree on one
 * key and nobody ever reads a half-written file.
 */
export function loadOrCreateKeyFile(file: string): Buffer {
  try {
    return readKeyFile(file);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if (!isExists(err)) throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return readKeyFile(file);
}

function readKeyFile(file: string): Buffer {
  const keys = parseSecretKeys(fs.readFileSync(file, 'utf8').trim());
  const first = keys?.[0];
  if (first === undefined) throw new SecretBoxError(`${file} does not hold a base64 key of at least 32 bytes`);
  return first;
}

const isNotFound = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && 'code' in err && err.code === 'ENOENT';
const isExists = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && 'code' in err && err.code === 'EEXIST';

export class SecretBox {
  private ring: RingKey[] | null = null;

  /** The ring is loaded (and a key file created) on first use, not at construction. */
  constructor(private readonly source: SecretKeySource) {}

  /** For the server's configuration: NIRO_SECRET_KEY when set, else `<dataDir>/secret.key`. */
  static fromConfig(config: { secretKey: string | null; dataDir: string }): SecretBox {
    return new SecretBox(
      config.secretKey !== null ? { keys: config.secretKey } : { keyFile: path.join(config.dataDir, SECRET_KEY_FILE) },
    );
  }

  /** The id of the key that encrypts now. */
  get currentKeyId(): string {
    return this.current().id;
  }

  /**
   * Seals `plaintext`. `context` (e.g. the row's id) is authenticated but not stored: a
   * ciphertext copied to another row does not open there.
   */
  encrypt(plaintext: string, context = ''): string {
    const { id, key } = this.current();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(id, context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [VERSION, id, iv.toString('base64url'), body.toString('base64url')].join('.');
  }

  /** Opens a value sealed by any key of the ring; throws SecretBoxError when it cannot. */
  decrypt(ciphertext: string, context = ''): string {
    const parts = ciphertext.split('.');
    const [version, id, ivText, bodyText] = parts;
    if (
      parts.length !== 4 ||
      version !== VERSION ||
      id === undefined ||
      ivText === undefined ||
      bodyText === undefined
    ) {
      throw new SecretBoxError('not a secret-box ciphertext of a known version');
    }
    const entry = this.keys().find((k) => k.id === id);
    if (entry === undefined) {
      throw new SecretBoxError(`sealed with key ${id}, which is not in the key ring (NIRO_SECRET_KEY)`);
    }
    const iv = Buffer.from(ivText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new SecretBoxError('truncated ciphertext');
    try {
      const decipher = createDecipheriv('aes-256-gcm', entry.key, iv);
      decipher.setAAD(aad(id, context));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString(
        'utf8',
      );
    } catch (err) {
      throw new SecretBoxError('the ciphertext was altered or belongs elsewhere', { cause: err });
    }
  }

  /** Whether a value is sealed by an older key and should be re-encrypted. */
  isStale(ciphertext: string): boolean {
    return ciphertext.split('.')[1] !== this.currentKeyId;
  }

  private current(): RingKey {
    const first = this.keys()[0];
    if (first === undefined) throw new SecretBoxError('the key ring is empty');
    return first;
  }

  private keys(): RingKey[] {
    if (this.ring === null) {
      if ('keys' in this.source) {
        const raw = parseSecretKeys(this.source.keys);
        if (raw === null) throw new SecretBoxError('NIRO_SECRET_KEY holds a key that is not base64 of ≥ 32 bytes');
        this.ring = raw.map(ringKey);
      } else {
        this.ring = [ringKey(loadOrCreateKeyFile(this.source.keyFile))];
      }
    }
    return this.ring;
  }
}

const aad = (keyId: string, context: string): Buffer => Buffer.from(`${VERSION}.${keyId}.${context}`, 'utf8');
