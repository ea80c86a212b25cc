import { mkdir, mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redactor, gitSourceError, stderrSummary } from './git-source.errors.js';
import {
  collectPlainManifests,
  displayPath,
  formatBytes,
  joinManifests,
  resolveRepoPath,
  resolveSymlink,
  type CheckoutFile,
} from './git-source.files.js';
import {
  parseGitCredential,
  parseGitPath,
  parseGitRef,
  parseGitUrl,
  type GitRef,
  type GitUrl,
} from './git-source.input.js';
import {
  checkKustomization,
  findKustomization,
  kustomizeUnavailable,
  renderKustomization,
} from './git-source.kustomize.js';
import { Deadline, findExecutable, folderBytes, runProcess, type ProcessOutput } from './git-source.process.js';

export type GitSource = {
  /** https:// URL of the repository, without credentials. */
  url: string;
  /** Branch, tag or full commit sha. */
  ref: string;
  /** Folder (or single .yaml file) inside the repository; '' or '.' for the root. */
  path: string;
  credential?: { username: string; password: string };
};

export type GitSourceOptions = {
  /** Whole import (clone, checks, kustomize); default 60 s. */
  timeoutMs?: number;
  /** Repository size: bytes written by the clone and total size of the commit's files; default 50 MiB. */
  maxRepoBytes?: number;
  /** Per manifest file (and per file a kustomization references); default 1 MiB. */
  maxFileBytes?: number;
  /** YAML files (or files a kustomization references); default 500. */
  maxFiles?: number;
  /** The joined or rendered YAML; default 2 MiB, the apply payload limit. */
  maxOutputBytes?: number;
  /** git binary; default `git` found on the PATH. */
  gitPath?: string;
  /** kubectl binary for kustomizations; default found on the PATH; null: not available. */
  kubectlPath?: string | null;
  /** Extra environment for git, e.g. GIT_SSL_CAINFO or HTTPS_PROXY; cannot override the hardening. */
  env?: Record<string, string>;
  /** Parent of the per-import temp folder; default the OS temp folder. */
  tmpDir?: string;
  signal?: AbortSignal;
};

export type GitSourceResult = {
  /** Full sha of the commit the manifests come from. */
  commit: string;
  /** The manifests as one YAML stream (plain: files sorted by path, joined by "---\n"). */
  yaml: string;
  /** Plain: the YAML files used. Kustomize: the kustomization files and the files they reference. */
  files: { path: string; bytes: number }[];
  rendered: 'plain' | 'kustomize';
};

export const GIT_SOURCE_DEFAULTS = {
  timeoutMs: 60_000,
  maxRepoBytes: 50 * 1024 * 1024,
  maxFileBytes: 1024 * 1024,
  maxFiles: 500,
  maxOutputBytes: 2 * 1024 * 1024,
} as const;

const SIZE_POLL_INTERVAL_MS = 100;
const MAX_TREE_ENTRIES = 200_000;
const MAX_TREE_LISTING_BYTES = 64 * 1024 * 1024;
const FIXED_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Keys of options.env that would undo the hardening below (or redirect git elsewhere). */
const FORBIDDEN_ENV =
  /^(GIT_(ASKPASS|SSH|SSH_COMMAND|SSH_VARIANT|EXEC_PATH|DIR|WORK_TREE|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|COMMON_DIR|CONFIG.*|TRACE.*|CURL_VERBOSE|SSL_NO_VERIFY|TEMPLATE_DIR|NAMESPACE|ALLOW_PROTOCOL|PROTOCOL_FROM_USER|TERMINAL_PROMPT|REDACT_COOKIES|REPLACE_REF_BASE)|SSH_ASKPASS|LD_PRELOAD|LD_LIBRARY_PATH|HOME|XDG_CONFIG_HOME|PATH|PREFIX)$/;

/**
 * Fetches manifests from a Git repository over HTTPS: a shallow clone of one ref into a fresh temp
 * folder (removed afterwards, also on errors and timeouts), then the plain YAML files under
 * `path`, or `kubectl kustomize` of it when it holds a kustomization. Refuses anything that could
 * read or write outside that folder, run commands, or exceed the limits (see GitSourceOptions).
 * Errors are NiroErrors with git_* / kustomize_* / manifests_too_large codes (git-source.errors.ts);
 * the credential never appears in them.
 */
export async function fetchGitSource(source: GitSource, options: GitSourceOptions = {}): Promise<GitSourceResult> {
  const url = parseGitUrl(source.url);
  const ref = parseGitRef(source.ref);
  const path = parseGitPath(source.path);
  const credential = parseGitCredential(source.credential);
  const limits = {
    timeoutMs: positive(options.timeoutMs, GIT_SOURCE_DEFAULTS.timeoutMs, 'timeoutMs'),
    maxRepoBytes: positive(options.maxRepoBytes, GIT_SOURCE_DEFAULTS.maxRepoBytes, 'maxRepoBytes'),
    maxFileBytes: positive(options.maxFileBytes, GIT_SOURCE_DEFAULTS.maxFileBytes, 'maxFileBytes'),
    maxFiles: positive(options.maxFiles, GIT_SOURCE_DEFAULTS.maxFiles, 'maxFiles'),
    maxOutputBytes: positive(options.maxOutputBytes, GIT_SOURCE_DEFAULTS.maxOutputBytes, 'maxOutputBytes'),
  };
  for (const key of Object.keys(options.env ?? {})) {
    if (FORBIDDEN_ENV.test(key)) throw new TypeError(`fetchGitSource: options.env must not set ${key}`);
  }
  const refText = ref.kind === 'sha' ? ref.sha : ref.name;
  const deadline = new Deadline(
    limits.timeoutMs,
    () =>
      gitSourceError(
        'git_timeout',
        `Fetching ${url.display} at ${refText} took longer than ${String(Math.round(limits.timeoutMs / 1000))} s; the Git server may be slow or the repository too large`,
        { timeoutMs: limits.timeoutMs },
      ),
    options.signal,
  );
  deadline.check();

  const gitPath = await findGit(options.gitPath);

  const work = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'niro-git-'));
  try {
    const git = await gitRunner(work, { gitPath, deadline, url, refText, credential, env: options.env }, ['checkout']);
    const { redactor } = git;
    const workReal = git.workDir;
    const home = join(workReal, 'home');
    const checkout = join(workReal, 'checkout');

    const commit = await cloneRef(git, ref, checkout, limits.maxRepoBytes);
    await checkTreeSize(git, checkout, commit, limits.maxRepoBytes);
    await runGitOk(git, checkout, ['checkout', '--quiet', '--detach', commit], 'check out the commit');
    const root = await realpath(checkout);
    deadline.check();

    const targetReal = await resolveRepoPath(root, path, refText);
    const targetPath = path === '' ? '' : path;
    const targetInfo = await stat(targetReal);
    const kustomization = targetInfo.isDirectory() ? await findKustomization(targetReal) : undefined;
    if (kustomization !== undefined) {
      const files = await checkKustomization(root, targetReal, limits, deadline);
      await checkRepoSymlinks(git, root, commit);
      if (options.kubectlPath === null) throw kustomizeUnavailable();
      const kubectlPath = await findExecutable(options.kubectlPath ?? 'kubectl', systemPath());
      if (kubectlPath === undefined) throw kustomizeUnavailable(options.kubectlPath);
      const yaml = await renderKustomization({
        kubectlPath,
        dirReal: targetReal,
        cwd: workReal,
        home,
        deadline,
        maxOutputBytes: limits.maxOutputBytes,
        redactor,
        dirPath: displayPath(root, targetReal),
      });
      if (yaml.trim() === '') throw noManifests(targetPath, refText);
      return { commit, yaml, files: publicFiles(files), rendered: 'kustomize' };
    }

    const files = await collectPlainManifests(root, targetReal, targetPath, limits, deadline);
    if (files.length === 0) throw noManifests(targetPath, refText);
    const yaml = await joinManifests(files, limits.maxOutputBytes);
    deadline.check();
    return { commit, yaml, files: publicFiles(files), rendered: 'plain' };
  } finally {
    await rm(work, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * The commit a ref points at now, without cloning (`git ls-remote`): what a tracked deployment
 * compares with its last revision. A full sha is its own answer. Same hardening, errors and
 * credential handling as fetchGitSource; a branch wins over a tag of the same name, as in a clone.
 */
export async function resolveGitRef(
  source: Omit<GitSource, 'path'>,
  options: Pick<GitSourceOptions, 'timeoutMs' | 'gitPath' | 'env' | 'tmpDir' | 'signal'> = {},
): Promise<string> {
  const url = parseGitUrl(source.url);
  const ref = parseGitRef(source.ref);
  const credential = parseGitCredential(source.credential);
  if (ref.kind === 'sha') return ref.sha;
  for (const key of Object.keys(options.env ?? {})) {
    if (FORBIDDEN_ENV.test(key)) throw new TypeError(`resolveGitRef: options.env must not set ${key}`);
  }
  const timeoutMs = positive(options.timeoutMs, 20_000, 'timeoutMs');
  const deadline = new Deadline(
    timeoutMs,
    () =>
      gitSourceError(
        'git_timeout',
        `Asking ${url.display} for ${ref.name} took longer than ${String(Math.round(timeoutMs / 1000))} s`,
        { timeoutMs },
      ),
    options.signal,
  );
  const gitPath = await findGit(options.gitPath);
  const work = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'niro-git-'));
  try {
    const git = await gitRunner(work, { gitPath, deadline, url, refText: ref.name, credential, env: options.env });
    const wanted = [`refs/heads/${ref.name}`, `refs/tags/${ref.name}^{}`, `refs/tags/${ref.name}`];
    const output = await runGit(git, git.workDir, ['ls-remote', '--', url.href, ...wanted]);
    if (output.code !== 0) throw cloneError(git, output);
    const found = new Map<string, string>();
    for (const line of output.stdout.toString('utf8').split('\n')) {
      const [sha, name] = line.trim().split('\t');
      if (sha !== undefined && name !== undefined && /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(sha)) found.set(name, sha);
    }
    const commit = wanted.map((name) => found.get(name)).find((sha) => sha !== undefined);
    if (commit === undefined) {
      throw gitSourceError(
        'git_ref_not_found',
        `The ref ${ref.name} was not found in ${url.display}: give an existing branch, tag or full commit sha`,
        { ref: ref.name },
      );
    }
    return commit;
  } finally {
    await rm(work, { recursive: true, force: true, maxRetries: 3 });
  }
}

type GitRunner = {
  gitPath: string;
  deadline: Deadline;
  redactor: Redactor;
  url: GitUrl;
  refText: string;
  hasCredential: boolean;
  env: NodeJS.ProcessEnv;
  baseArgs: string[];
  workDir: string;
};

/** git, from the PATH unless given; git_unavailable without it. */
async function findGit(gitPath: string | undefined): Promise<string> {
  const found = await findExecutable(gitPath ?? 'git', systemPath());
  if (found === undefined) {
    throw gitSourceError('git_unavailable', 'git is not installed on the server: install git to import from Git');
  }
  return found;
}

/**
 * Runs git in the fresh folder `work`: an empty HOME and template folder inside it, the hardening,
 * the credential through the environment, and messages redacted of the credential and of the
 * folder's paths (`subfolders` of it first, for shorter names).
 */
async function gitRunner(
  work: string,
  fields: {
    gitPath: string;
    deadline: Deadline;
    url: GitUrl;
    refText: string;
    credential: { username: string; password: string } | undefined;
    env: Record<string, string> | undefined;
  },
  subfolders: string[] = [],
): Promise<GitRunner> {
  const workReal = await realpath(work);
  const home = join(workReal, 'home');
  const template = join(workReal, 'template');
  await mkdir(home);
  await mkdir(template);
  const secrets = fields.credential === undefined ? [] : credentialSecrets(fields.credential);
  return {
    gitPath: fields.gitPath,
    deadline: fields.deadline,
    redactor: new Redactor(secrets, [...subfolders.map((f) => join(workReal, f)), workReal, work]),
    url: fields.url,
    refText: fields.refText,
    hasCredential: fields.credential !== undefined,
    env: gitEnv(home, fields.env ?? {}, secrets[0]),
    baseArgs: hardeningArgs(template),
    workDir: workReal,
  };
}

function hardeningArgs(template: string): string[] {
  const config = [
    'protocol.allow=never',
    'protocol.https.allow=always',
    'protocol.file.allow=never',
    'http.followRedirects=false',
    'http.sslVerify=true',
    'core.symlinks=true',
    'core.hooksPath=/dev/null',
    'core.fsmonitor=false',
    'core.askPass=',
    'credential.helper=',
    'submodule.recurse=false',
    'fetch.recurseSubmodules=false',
    `init.templateDir=${template}`,
    'advice.detachedHead=false',
  ];
  return config.flatMap((entry) => ['-c', entry]);
}

/** A fixed environment: nothing of the server's own (no HOME config, no askpass, no proxies unless given). */
function gitEnv(home: string, extra: Record<string, string>, authorization: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...extra,
    PATH: FIXED_PATH,
    HOME: home,
    XDG_CONFIG_HOME: home,
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: 'https',
    GIT_PROTOCOL_FROM_USER: '0',
    GIT_LFS_SKIP_SMUDGE: '1',
    GIT_CONFIG_COUNT: '0',
  };
  if (authorization !== undefined) {
    // Config from the environment, not `-c`: the command line is visible to every user in ps.
    env.GIT_CONFIG_COUNT = '1';
    env.GIT_CONFIG_KEY_0 = 'http.extraHeader';
    env.GIT_CONFIG_VALUE_0 = authorization;
  }
  return env;
}

/** Every form in which the credential could show up in git's output; the header first. */
function credentialSecrets(credential: { username: string; password: string }): string[] {
  const basic = Buffer.from(`${credential.username}:${credential.password}`).toString('base64');
  return [
    `Authorization: Basic ${basic}`,
    basic,
    `${credential.username}:${credential.password}`,
    credential.password,
    encodeURIComponent(credential.password),
  ];
}

async function cloneRef(git: GitRunner, ref: GitRef, checkout: string, maxRepoBytes: number): Promise<string> {
  const watch = {
    intervalMs: SIZE_POLL_INTERVAL_MS,
    check: async () => {
      const bytes = await folderBytes(checkout);
      return bytes > maxRepoBytes
        ? repoTooLarge(git, maxRepoBytes, `the clone passed ${formatBytes(bytes)}`)
        : undefined;
    },
  };
  if (ref.kind === 'name') {
    const output = await runGit(
      git,
      git.workDir,
      [
        'clone',
        '--quiet',
        '--depth=1',
        '--no-tags',
        '--single-branch',
        '--no-checkout',
        `--template=${join(git.workDir, 'template')}`,
        `--branch=${ref.name}`,
        '--',
        git.url.href,
        checkout,
      ],
      watch,
    );
    if (output.code !== 0) throw cloneError(git, output);
  } else {
    await mkdir(checkout);
    await runGitOk(
      git,
      checkout,
      ['init', '--quiet', `--template=${join(git.workDir, 'template')}`],
      'create the checkout',
    );
    const output = await runGit(
      git,
      checkout,
      ['fetch', '--quiet', '--depth=1', '--no-tags', '--no-recurse-submodules', '--', git.url.href, ref.sha],
      watch,
    );
    if (output.code !== 0) throw cloneError(git, output);
  }
  const final = await folderBytes(checkout);
  if (final > maxRepoBytes) throw repoTooLarge(git, maxRepoBytes, `the clone is ${formatBytes(final)}`);
  const head = ref.kind === 'name' ? 'HEAD' : 'FETCH_HEAD';
  const output = await runGitOk(git, checkout, ['rev-parse', '--verify', `${head}^{commit}`], 'read the commit');
  const commit = output.stdout.toString('utf8').trim();
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) {
    throw gitSourceError('git_clone_failed', `Could not read the commit of ${git.refText} from ${git.url.display}`);
  }
  if (ref.kind === 'sha' && commit !== ref.sha) {
    throw gitSourceError('git_ref_not_found', `The commit ${ref.sha} was not found in ${git.url.display}`, {
      ref: ref.sha,
    });
  }
  return commit;
}

/** Sizes from the commit's tree before anything is written: a small pack can expand into a huge checkout. */
async function checkTreeSize(git: GitRunner, checkout: string, commit: string, maxRepoBytes: number): Promise<void> {
  const output = await runGit(
    git,
    checkout,
    ['ls-tree', '-r', '-l', '-z', '--full-tree', commit],
    undefined,
    MAX_TREE_LISTING_BYTES,
  );
  if (output.stdoutTruncated) throw repoTooLarge(git, maxRepoBytes, 'it has too many files');
  if (output.code !== 0) throw cloneError(git, output);
  let total = 0;
  let count = 0;
  for (const entry of output.stdout.toString('utf8').split('\0')) {
    if (entry === '') continue;
    count += 1;
    const size = Number.parseInt(entry.split('\t', 1)[0]?.trim().split(/\s+/)[3] ?? '', 10);
    if (Number.isFinite(size)) total += size;
  }
  if (count > MAX_TREE_ENTRIES) throw repoTooLarge(git, maxRepoBytes, `it has ${String(count)} files`);
  if (total > maxRepoBytes) throw repoTooLarge(git, maxRepoBytes, `its files add up to ${formatBytes(total)}`);
}

/**
 * kustomize can reach any folder of the repository (`../base`), so with a kustomization every
 * symlink in the commit must stay inside the checkout.
 */
async function checkRepoSymlinks(git: GitRunner, root: string, commit: string): Promise<void> {
  const output = await runGit(
    git,
    root,
    ['ls-tree', '-r', '-z', '--full-tree', commit],
    undefined,
    MAX_TREE_LISTING_BYTES,
  );
  if (output.code !== 0) throw cloneError(git, output);
  for (const entry of output.stdout.toString('utf8').split('\0')) {
    if (!entry.startsWith('120000 ')) continue;
    const tab = entry.indexOf('\t');
    const path = entry.slice(tab + 1);
    await resolveSymlink(root, join(root, path), path);
  }
}

function runGit(
  git: GitRunner,
  cwd: string,
  args: string[],
  watch?: { intervalMs: number; check: () => Promise<ReturnType<typeof gitSourceError> | undefined> },
  maxStdoutBytes = 1024 * 1024,
): Promise<ProcessOutput> {
  return runProcess(git.gitPath, [...git.baseArgs, ...args], {
    cwd,
    env: git.env,
    deadline: git.deadline,
    maxStdoutBytes,
    ...(watch === undefined ? {} : { watch }),
  });
}

async function runGitOk(git: GitRunner, cwd: string, args: string[], what: string): Promise<ProcessOutput> {
  const output = await runGit(git, cwd, args);
  if (output.code !== 0) {
    throw gitSourceError(
      'git_clone_failed',
      `Could not ${what} for ${git.url.display} at ${git.refText}: ${stderrSummary(output.stderr, git.redactor)}`,
    );
  }
  return output;
}

/** Turns git's (English, LC_ALL=C) failure into the error a user can act on. */
function cloneError(git: GitRunner, output: ProcessOutput): Error {
  const stderr = git.redactor.redact(output.stderr);
  const summary = stderrSummary(output.stderr, git.redactor);
  const repo = git.url.display;
  if (
    /Remote branch .* not found|couldn't find remote ref|not our ref|no such remote ref|unadvertised object|did not send all necessary objects/i.test(
      stderr,
    )
  ) {
    return gitSourceError(
      'git_ref_not_found',
      `The ref ${git.refText} was not found in ${repo}: give an existing branch, tag or full commit sha`,
      { ref: git.refText },
    );
  }
  if (
    /terminal prompts disabled|Authentication failed|could not read (Username|Password)|returned error: 40[13]/i.test(
      stderr,
    )
  ) {
    return gitSourceError(
      'git_auth_failed',
      git.hasCredential
        ? `The Git server refused the credential for ${repo}: check the username and the password or token (and that it may read this repository)`
        : `${repo} needs authentication: add a credential (a username and a password or access token)`,
    );
  }
  if (/repository '.*' not found|returned error: 404/i.test(stderr)) {
    return gitSourceError(
      'git_repo_not_found',
      `The repository ${repo} was not found (a private repository may also answer like this without a valid credential)`,
    );
  }
  if (/returned error: 30[1-8]/i.test(stderr)) {
    return gitSourceError(
      'git_redirect_not_allowed',
      `${repo} answered with a redirect; Niro does not follow redirects for Git: use the repository's final URL`,
    );
  }
  return gitSourceError(
    'git_clone_failed',
    `Could not fetch ${repo} at ${git.refText}: ${summary || `git exit code ${String(output.code)}`}`,
  );
}

function repoTooLarge(git: GitRunner, maxRepoBytes: number, why: string): ReturnType<typeof gitSourceError> {
  return gitSourceError(
    'git_repo_too_large',
    `The repository ${git.url.display} at ${git.refText} is over the limit of ${formatBytes(maxRepoBytes)} (${why}); keep the manifests in a smaller repository`,
    { limit: maxRepoBytes },
  );
}

function noManifests(path: string, ref: string): Error {
  return gitSourceError(
    'git_no_manifests',
    `No manifests found at ${path === '' ? 'the repository root' : path} (ref ${ref}): the path needs .yaml or .yml files or a kustomization.yaml`,
    { path },
  );
}

function publicFiles(files: CheckoutFile[]): { path: string; bytes: number }[] {
  return files.map((file) => ({ path: file.path, bytes: file.bytes }));
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`fetchGitSource: ${name} must be a positive number`);
  return value;
}

/** The server's PATH, only to find git and kubectl; children get a fixed PATH. */
function systemPath(): string {
  return process.env.PATH ?? FIXED_PATH;
}
