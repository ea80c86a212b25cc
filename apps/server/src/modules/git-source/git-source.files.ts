import { lstat, readFile, readlink, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { gitSourceError } from './git-source.errors.js';
import type { Deadline } from './git-source.process.js';

export type ManifestLimits = { maxFileBytes: number; maxFiles: number; maxOutputBytes: number };

/** A file inside the checkout: `path` relative to the repository root (with '/'), `real` on disk. */
export type CheckoutFile = { path: string; real: string; bytes: number };

const YAML_FILE = /\.ya?ml$/;
const MAX_WALK_DEPTH = 64;
const MAX_WALK_ENTRIES = 100_000;
export const DOCUMENT_SEPARATOR = '---\n';

/** True when `real` (an already resolved path) is the checkout root or below it, and not in .git. */
export function isInsideCheckout(root: string, real: string): boolean {
  if (real !== root && !real.startsWith(root + sep)) return false;
  const first = relative(root, real).split(sep)[0];
  return first !== '.git';
}

export function displayPath(root: string, real: string): string {
  const rel = relative(root, real).split(sep).join('/');
  return rel === '' ? '.' : rel;
}

function symlinkOutside(path: string): Error {
  return gitSourceError(
    'git_symlink_outside_repo',
    `The symlink ${path} points outside the repository (or into .git); Niro does not follow it. Replace it with the file itself`,
    { path },
  );
}

/**
 * Resolves a symlink found at `abs` (shown as `path`): its real path when it resolves inside the
 * checkout, undefined when it is dangling inside the checkout; throws when it leads outside.
 */
export async function resolveSymlink(root: string, abs: string, path: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(abs);
  } catch {
    // Dangling: refuse only when where it points is outside (nothing there can be read anyway).
    let target: string;
    try {
      target = await readlink(abs);
    } catch {
      return undefined;
    }
    if (!isInsideCheckout(root, resolve(dirname(abs), target))) throw symlinkOutside(path);
    return undefined;
  }
  if (!isInsideCheckout(root, real)) throw symlinkOutside(path);
  return real;
}

/**
 * The real path of `rel` (a normalised relative path) inside the checkout. Every symlink on the way
 * is resolved; one that leads outside the checkout is refused.
 */
export async function resolveRepoPath(root: string, rel: string, ref: string): Promise<string> {
  if (rel === '') return root;
  let real: string;
  try {
    real = await realpath(join(root, rel));
  } catch {
    // Tell a dangling symlink that points outside apart from a plain missing path.
    let current = root;
    for (const part of rel.split('/')) {
      const next = join(current, part);
      const info = await lstat(next).catch(() => undefined);
      if (info === undefined) break;
      if (info.isSymbolicLink()) {
        const resolved = await resolveSymlink(root, next, displayPath(root, next));
        if (resolved === undefined) break;
        current = resolved;
      } else current = next;
    }
    throw gitSourceError('git_path_not_found', `The path ${rel} does not exist at ref ${ref}`, { path: rel });
  }
  if (!isInsideCheckout(root, real)) throw symlinkOutside(rel);
  return real;
}

/**
 * Plain manifests: every *.yaml / *.yml file under `startReal`, recursively, sorted by path, dot
 * entries skipped, symlinks followed only while they stay inside the checkout.
 */
export async function collectPlainManifests(
  root: string,
  startReal: string,
  startPath: string,
  limits: ManifestLimits,
  deadline: Deadline,
): Promise<CheckoutFile[]> {
  const startInfo = await stat(startReal);
  if (startInfo.isFile()) {
    if (!YAML_FILE.test(startPath)) {
      throw gitSourceError('git_no_manifests', `The path ${startPath} is not a .yaml or .yml file`, {
        path: startPath,
      });
    }
    return checkFiles([{ path: startPath, real: startReal, bytes: startInfo.size }], limits);
  }

  const found: CheckoutFile[] = [];
  const visitedDirs = new Set<string>([startReal]);
  let walked = 0;
  const visit = async (dirReal: string, dirPath: string, depth: number): Promise<void> => {
    deadline.check();
    if (depth > MAX_WALK_DEPTH) {
      throw gitSourceError(
        'git_path_invalid',
        `The folder ${dirPath} is nested more than ${String(MAX_WALK_DEPTH)} deep`,
      );
    }
    const names = (await readdir(dirReal)).filter((name) => !name.startsWith('.')).sort(compareStrings);
    for (const name of names) {
      walked += 1;
      if (walked > MAX_WALK_ENTRIES) {
        throw gitSourceError(
          'git_too_many_files',
          `The path ${startPath} holds more than ${String(MAX_WALK_ENTRIES)} files and folders: point the path at the manifests folder`,
        );
      }
      const abs = join(dirReal, name);
      const path = dirPath === '' ? name : `${dirPath}/${name}`;
      const info = await lstat(abs).catch(() => undefined);
      if (info === undefined) continue;
      let real = abs;
      let target = info;
      if (info.isSymbolicLink()) {
        const resolved = await resolveSymlink(root, abs, path);
        if (resolved === undefined) continue;
        real = resolved;
        target = await stat(real);
      }
      if (target.isDirectory()) {
        if (visitedDirs.has(real)) continue;
        visitedDirs.add(real);
        await visit(real, path, depth + 1);
      } else if (target.isFile() && YAML_FILE.test(name)) {
        found.push({ path, real, bytes: target.size });
        if (found.length > limits.maxFiles) {
          throw gitSourceError(
            'git_too_many_files',
            `The path ${startPath === '' ? '(repository root)' : startPath} has more than ${String(limits.maxFiles)} YAML files (the limit)`,
            { limit: limits.maxFiles },
          );
        }
      }
    }
  };
  await visit(startReal, startPath, 0);
  return checkFiles(found, limits);
}

function checkFiles(files: CheckoutFile[], limits: ManifestLimits): CheckoutFile[] {
  const seen = new Set<string>();
  const unique = [...files]
    .sort((a, b) => compareStrings(a.path, b.path))
    .filter((file) => {
      // The same file reached through a symlink is applied once.
      if (seen.has(file.real)) return false;
      seen.add(file.real);
      return true;
    });
  for (const file of unique) assertFileSize(file, limits.maxFileBytes);
  return unique;
}

export function assertFileSize(file: CheckoutFile, maxFileBytes: number): void {
  if (file.bytes > maxFileBytes) {
    throw gitSourceError(
      'git_file_too_large',
      `The file ${file.path} is ${formatBytes(file.bytes)}, over the limit of ${formatBytes(maxFileBytes)} per manifest file`,
      { path: file.path, bytes: file.bytes, limit: maxFileBytes },
    );
  }
}

/** Reads the files as UTF-8 and joins them into one multi-document YAML stream. */
export async function joinManifests(files: CheckoutFile[], maxOutputBytes: number): Promise<string> {
  const leastBytes =
    files.reduce((sum, file) => sum + file.bytes, 0) + DOCUMENT_SEPARATOR.length * Math.max(0, files.length - 1);
  if (leastBytes > maxOutputBytes) throw manifestsTooLarge(maxOutputBytes, leastBytes);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const documents: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = decoder.decode(await readFile(file.real));
    } catch {
      throw gitSourceError('git_file_not_utf8', `The file ${file.path} is not UTF-8 text`, { path: file.path });
    }
    documents.push(text === '' || text.endsWith('\n') ? text : `${text}\n`);
  }
  const yaml = documents.join(DOCUMENT_SEPARATOR);
  const bytes = Buffer.byteLength(yaml);
  if (bytes > maxOutputBytes) throw manifestsTooLarge(maxOutputBytes, bytes);
  return yaml;
}

/** `bytes` undefined: the output was cut off at the limit, its full size is unknown. */
export function manifestsTooLarge(maxOutputBytes: number, bytes?: number): Error {
  const size = bytes === undefined ? `more than ${formatBytes(maxOutputBytes)}` : formatBytes(bytes);
  return gitSourceError(
    'manifests_too_large',
    `The manifests are ${size}, over the limit of ${formatBytes(maxOutputBytes)} for one apply: split them into several deployments`,
    { limit: maxOutputBytes },
  );
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${String(bytes)} bytes`;
}

/** Code-unit order: stable across locales and machines. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
