import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CliError } from './errors.js';

/** What `niro login` remembers: one server and an API token for it. */
export type StoredLogin = { url: string; token: string };

export const configFile = (configDir: string): string => path.join(configDir, 'config.json');

export async function readLogin(configDir: string): Promise<StoredLogin | null> {
  const file = configFile(configDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (typeof err === 'object' && err !== null && 'code' in err && err.code === 'ENOENT') return null;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not valid JSON: fix it or run \`niro logout\``);
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const url = 'url' in parsed && typeof parsed.url === 'string' ? parsed.url : null;
  const token = 'token' in parsed && typeof parsed.token === 'string' ? parsed.token : null;
  return url !== null && token !== null ? { url, token } : null;
}

/** Writes the login readable by the owner only (0600, directory 0700). */
export async function writeLogin(configDir: string, login: StoredLogin): Promise<string> {
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  const file = configFile(configDir);
  await writeFile(file, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  // writeFile keeps the mode of an existing file; make sure an older, looser one is tightened.
  await chmod(file, 0o600);
  return file;
}

export async function removeLogin(configDir: string): Promise<boolean> {
  const existed = (await readLogin(configDir).catch(() => null)) !== null;
  await rm(configFile(configDir), { force: true });
  return existed;
}
