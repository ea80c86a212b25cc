import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { gitSourceError, stderrSummary, type Redactor } from './git-source.errors.js';
import {
  assertFileSize,
  compareStrings,
  displayPath,
  isInsideCheckout,
  manifestsTooLarge,
  resolveSymlink,
  type CheckoutFile,
  type ManifestLimits,
} from './git-source.files.js';
import { runProcess, type Deadline } from './git-source.process.js';

export const KUSTOMIZATION_FILE_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

const MAX_KUSTOMIZE_DEPTH = 32;
const MAX_ALIAS_COUNT = 100;
/** Fields that make kustomize run code or fetch charts; kubectl would need extra flags, we refuse them outright. */
const PLUGIN_FIELDS = [
  'helmCharts',
  'helmChartInflationGenerator',
  'helmGlobals',
  'generators',
  'transformers',
  'validators',
];

/** The kustomization file name in `dirReal`, if there is one. */
export async function findKustomization(dirReal: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILE_NAMES) {
    const info = await lstat(join(dirReal, name)).catch(() => undefined);
    if (info !== undefined) return name;
  }
  return undefined;
}

/**
 * Checks the kustomization in `dirReal` and every local kustomization it reaches before kubectl
 * sees them: no remote resources (kustomize would clone or download them), no plugins or Helm,
 * no path or symlink that leaves the checkout. Returns the files it references, sorted.
 */
export async function checkKustomization(
  root: string,
  dirReal: string,
  limits: ManifestLimits,
  deadline: Deadline,
): Promise<CheckoutFile[]> {
  const files = new Map<string, CheckoutFile>();
  const visited = new Set<string>();
  const addFile = (file: CheckoutFile): void => {
    assertFileSize(file, limits.maxFileBytes);
    files.set(file.real, file);
    if (files.size > limits.maxFiles) {
      throw gitSourceError(
        'git_too_many_files',
        `The kustomization references more than ${String(limits.maxFiles)} files (the limit)`,
        { limit: limits.maxFiles },
      );
    }
  };

  const visitDir = async (kustDir: string, depth: number): Promise<void> => {
    deadline.check();
    if (visited.has(kustDir)) return;
    visited.add(kustDir);
    const dirPath = displayPath(root, kustDir);
    if (depth > MAX_KUSTOMIZE_DEPTH) {
      throw gitSourceError(
        'kustomize_invalid',
        `The kustomization in ${dirPath} nests more than ${String(MAX_KUSTOMIZE_DEPTH)} levels deep`,
      );
    }
    const name = await findKustomization(kustDir);
    if (name === undefined) {
      throw gitSourceError(
        'kustomize_invalid',
        `The folder ${dirPath} is used as a kustomize resource but has no kustomization.yaml`,
        { path: dirPath },
      );
    }
    const fileAbs = join(kustDir, name);
    const filePath = dirPath === '.' ? name : `${dirPath}/${name}`;
    const fileReal = await resolveSymlink(root, fileAbs, filePath);
    if (fileReal === undefined) {
      throw gitSourceError('kustomize_invalid', `The kustomization file ${filePath} is a broken symlink`, {
        path: filePath,
      });
    }
    const info = await stat(fileReal);
    addFile({ path: filePath, real: fileReal, bytes: info.size });
    const kustomization = parseKustomization(await readFile(fileReal, 'utf8'), filePath);

    for (const field of PLUGIN_FIELDS) {
      const value = kustomization[field];
      if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) continue;
      throw gitSourceError(
        'kustomize_plugins_not_allowed',
        `${filePath} uses "${field}": Helm charts and generator, transformer or validator plugins are not supported. Render them into plain manifests in the repository`,
        { path: filePath, field },
      );
    }

    const reference = async (entry: unknown, field: string, mustExist: boolean): Promise<string | undefined> => {
      if (typeof entry !== 'string' || entry === '') {
        throw gitSourceError('kustomize_invalid', `${filePath}: every entry of "${field}" must be a path`, {
          path: filePath,
          field,
        });
      }
      if (looksRemote(entry)) {
        throw gitSourceError(
          'kustomize_remote_not_allowed',
          `${filePath} refers to the remote ${field} entry "${withoutUserInfo(entry)}": Niro renders only what is in the repository. Copy it into the repository and refer to it by path`,
          { path: filePath, field },
        );
      }
      const lexical = resolve(kustDir, entry);
      if (isAbsolute(entry) || !isInsideCheckout(root, lexical)) {
        throw gitSourceError(
          'kustomize_path_outside_repo',
          `${filePath} refers to "${entry}" in "${field}", which is outside the repository`,
          { path: filePath, field },
        );
      }
      let real: string;
      try {
        real = await realpath(lexical);
      } catch {
        // A dangling symlink that leads outside is refused; a plain missing file is up to kustomize.
        await resolveSymlink(root, lexical, displayPath(root, lexical));
        if (!mustExist) return undefined;
        // kustomize would try a missing resource as a remote URL next: refuse before it does.
        throw gitSourceError(
          'kustomize_invalid',
          `${filePath} refers to "${entry}" in "${field}", which does not exist in the repository`,
          { path: filePath, field },
        );
      }
      if (!isInsideCheckout(root, real)) {
        throw gitSourceError(
          'git_symlink_outside_repo',
          `${filePath} refers to "${entry}" in "${field}", which resolves outside the repository (or into .git) through a symlink`,
          { path: filePath, field },
        );
      }
      const target = await stat(real);
      if (target.isFile()) addFile({ path: displayPath(root, real), real, bytes: target.size });
      return target.isDirectory() ? real : undefined;
    };

    for (const field of ['resources', 'components', 'bases']) {
      for (const entry of listField(kustomization, field, filePath)) {
        const dir = await reference(entry, field, true);
        if (dir !== undefined) await visitDir(dir, depth + 1);
      }
    }
    for (const field of ['crds', 'configurations']) {
      for (const entry of listField(kustomization, field, filePath)) await reference(entry, field, false);
    }
    for (const entry of listField(kustomization, 'patchesStrategicMerge', filePath)) {
      // Entries are paths or inline patches; only paths are files.
      if (typeof entry === 'string' && !entry.includes('\n')) await reference(entry, 'patchesStrategicMerge', false);
    }
    for (const field of ['patches', 'patchesJson6902', 'replacements']) {
      for (const item of listField(kustomization, field, filePath)) {
        if (isRecord(item) && item.path !== undefined) await reference(item.path, `${field}.path`, false);
      }
    }
    const openapi = kustomization.openapi;
    if (isRecord(openapi) && openapi.path !== undefined) await reference(openapi.path, 'openapi.path', false);
    for (const field of ['configMapGenerator', 'secretGenerator']) {
      for (const generator of listField(kustomization, field, filePath)) {
        if (!isRecord(generator)) continue;
        for (const source of listField(generator, 'files', filePath)) {
          // "key=path" names the key; the path is after the first "=".
          const path = typeof source === 'string' ? source.slice(source.indexOf('=') + 1) : source;
          await reference(path, `${field}.files`, false);
        }
        for (const env of listField(generator, 'envs', filePath)) await reference(env, `${field}.envs`, false);
        if (generator.env !== undefined) await reference(generator.env, `${field}.env`, false);
      }
    }
  };

  await visitDir(dirReal, 0);
  return [...files.values()].sort((a, b) => compareStrings(a.path, b.path));
}

/** `kubectl kustomize` of a checked kustomization: no network, no plugins, files from inside its root only. */
export async function renderKustomization(input: {
  kubectlPath: string;
  dirReal: string;
  cwd: string;
  home: string;
  deadline: Deadline;
  maxOutputBytes: number;
  redactor: Redactor;
  dirPath: string;
}): Promise<string> {
  // Defence in depth behind checkKustomization: no PATH (kustomize cannot exec git or helm) and a
  // dead proxy (it cannot download anything).
  const deadProxy = 'http://127.0.0.1:9';
  const env: NodeJS.ProcessEnv = {
    HOME: input.home,
    XDG_CONFIG_HOME: input.home,
    KUBECONFIG: join(input.home, 'no-kubeconfig'),
    KUSTOMIZE_PLUGIN_HOME: join(input.home, 'no-plugins'),
    PATH: '',
    LC_ALL: 'C',
    HTTP_PROXY: deadProxy,
    HTTPS_PROXY: deadProxy,
    http_proxy: deadProxy,
    https_proxy: deadProxy,
    NO_PROXY: '',
    no_proxy: '',
  };
  let output;
  try {
    output = await runProcess(
      input.kubectlPath,
      ['kustomize', '--load-restrictor=LoadRestrictionsRootOnly', input.dirReal],
      { cwd: input.cwd, env, deadline: input.deadline, maxStdoutBytes: input.maxOutputBytes + 1 },
    );
  } catch (error) {
    if (error instanceof Error && 'code' in error && (error.code === 'ENOENT' || error.code === 'EACCES')) {
      throw kustomizeUnavailable(input.kubectlPath);
    }
    throw error;
  }
  if (output.stdoutTruncated) throw manifestsTooLarge(input.maxOutputBytes);
  if (output.code !== 0) {
    throw gitSourceError(
      'kustomize_failed',
      `kubectl kustomize ${input.dirPath} failed: ${stderrSummary(output.stderr, input.redactor) || `exit code ${String(output.code)}`}`,
      { path: input.dirPath },
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(output.stdout);
  } catch {
    throw gitSourceError('kustomize_failed', `kubectl kustomize ${input.dirPath} printed output that is not UTF-8`);
  }
}

export function kustomizeUnavailable(kubectlPath?: string): Error {
  const where =
    kubectlPath === undefined ? 'kubectl was not found on the PATH' : `kubectl (${kubectlPath}) cannot be run`;
  return gitSourceError(
    'kustomize_unavailable',
    `This path holds a kustomization, but ${where}: install kubectl on the server's PATH to import kustomizations, or point the path at plain YAML`,
  );
}

function parseKustomization(text: string, filePath: string): Record<string, unknown> {
  const document = parseDocument(text, { prettyErrors: false });
  const first = document.errors[0];
  if (first !== undefined) {
    throw gitSourceError('kustomize_invalid', `${filePath} is not valid YAML: ${first.message.split('\n')[0] ?? ''}`, {
      path: filePath,
    });
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const why = error instanceof Error ? error.message : 'cannot be read';
    throw gitSourceError('kustomize_invalid', `${filePath} cannot be read: ${why}`, { path: filePath });
  }
  if (!isRecord(value)) {
    throw gitSourceError('kustomize_invalid', `${filePath} must be a YAML mapping (apiVersion, kind, resources, …)`, {
      path: filePath,
    });
  }
  return value;
}

function listField(object: Record<string, unknown>, field: string, filePath: string): unknown[] {
  const value = object[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw gitSourceError('kustomize_invalid', `${filePath}: "${field}" must be a list`, { path: filePath, field });
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What kustomize would fetch instead of reading from disk: URLs of any scheme, go-getter style
 * `git::`/`gh:` prefixes, scp-like `git@host:repo`, host-first repo paths and `?ref=` queries.
 */
function looksRemote(entry: string): boolean {
  return (
    /^[a-z][a-z0-9+.-]*:/i.test(entry) ||
    entry.startsWith('//') ||
    /^[^/]+@[^/]+:/.test(entry) ||
    /^(github\.com|gitlab\.com|bitbucket\.org)\//i.test(entry) ||
    /[?&](ref|version|timeout|submodules)=/.test(entry)
  );
}

function withoutUserInfo(entry: string): string {
  return entry.replace(/\/\/[^/@]*@/, '//').replace(/^[^/@:]+:[^/@]*@/, '');
}
