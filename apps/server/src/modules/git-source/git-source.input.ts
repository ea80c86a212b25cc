import { gitSourceError } from './git-source.errors.js';

const MAX_URL_CHARS = 2048;
const MAX_REF_CHARS = 255;
const MAX_PATH_CHARS = 1024;
const MAX_CREDENTIAL_CHARS = 4096;
// eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export type GitUrl = {
  /** What git is given: the parsed, normalised https URL. */
  href: string;
  /** For messages: origin + path, never any credential. */
  display: string;
};

/**
 * Only `https://host/path` URLs. Everything else (http, ssh, scp-like `git@host:repo`, git://,
 * file://, `ext::` and other remote helpers, local paths) is refused: each either leaks
 * credentials, runs commands or reads the server's own disk.
 */
export function parseGitUrl(raw: string): GitUrl {
  if (raw.trim() === '') throw gitSourceError('git_url_invalid', 'The Git URL is empty: give an https:// URL');
  if (raw.length > MAX_URL_CHARS) {
    throw gitSourceError('git_url_invalid', `The Git URL is longer than ${String(MAX_URL_CHARS)} characters`);
  }
  if (!/^https:\/\//i.test(raw)) {
    const scheme = /^([a-z][a-z0-9+.-]*)::?/i.exec(raw)?.[1];
    const what = scheme !== undefined ? `"${scheme.toLowerCase()}" URLs are` : 'Local paths and SSH addresses are';
    throw gitSourceError(
      'git_url_not_https',
      `${what} not supported: give the repository's https:// URL (for example https://github.com/org/repo.git)`,
    );
  }
  if (CONTROL_CHARS.test(raw) || /\s/.test(raw)) {
    throw gitSourceError('git_url_invalid', 'The Git URL must not contain spaces or control characters');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw gitSourceError('git_url_invalid', 'The Git URL is not a valid https:// URL');
  }
  if (url.username !== '' || url.password !== '') {
    throw gitSourceError(
      'git_credentials_in_url',
      'The Git URL must not contain a username, password or token: remove it from the URL and give it as the credential instead',
    );
  }
  if (url.search !== '' || url.hash !== '' || raw.includes('#') || raw.includes('?')) {
    throw gitSourceError(
      'git_url_invalid',
      'The Git URL must not contain a query string or fragment (credentials go in the credential field)',
    );
  }
  if (url.hostname === '' || url.pathname === '/' || url.pathname === '') {
    throw gitSourceError('git_url_invalid', 'The Git URL needs a host and a repository path');
  }
  return { href: url.href, display: `${url.origin}${url.pathname}` };
}

export type GitRef = { kind: 'sha'; sha: string } | { kind: 'name'; name: string };

/**
 * A branch or tag name, or a full commit sha (40 or 64 hex digits). Git allows more characters in
 * ref names than this; the subset keeps every ref unambiguous as a command-line argument.
 */
export function parseGitRef(raw: string): GitRef {
  if (raw === '') throw gitSourceError('git_ref_invalid', 'The Git ref is empty: give a branch, tag or commit sha');
  const shown = JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
  const invalid = (why: string): Error =>
    gitSourceError('git_ref_invalid', `The Git ref ${shown} is not valid: ${why}`);
  if (raw.length > MAX_REF_CHARS) throw invalid(`it is longer than ${String(MAX_REF_CHARS)} characters`);
  if (CONTROL_CHARS.test(raw)) throw invalid('it contains control characters');
  if (raw.startsWith('-')) throw invalid('it must not start with "-"');
  if (/^([0-9a-f]{40}|[0-9a-f]{64})$/i.test(raw)) return { kind: 'sha', sha: raw.toLowerCase() };
  if (!/^[A-Za-z0-9_][A-Za-z0-9._/+@-]*$/.test(raw)) {
    throw invalid('use letters, digits and . _ / + @ - only (a branch name, a tag or a full commit sha)');
  }
  if (raw.includes('..')) throw invalid('it must not contain ".."');
  if (raw.includes('//') || raw.endsWith('/') || raw.endsWith('.') || raw.endsWith('.lock') || raw.includes('@{')) {
    throw invalid('it is not a valid branch or tag name');
  }
  if (raw.split('/').some((part) => part.startsWith('.'))) throw invalid('a part of it starts with "."');
  return { kind: 'name', name: raw };
}

/** Normalised path inside the repository, '' for the root; never absolute, never above the root. */
export function parseGitPath(raw: string): string {
  const shown = JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
  if (raw.length > MAX_PATH_CHARS) {
    throw gitSourceError('git_path_invalid', `The path is longer than ${String(MAX_PATH_CHARS)} characters`);
  }
  if (CONTROL_CHARS.test(raw) || raw.includes('\\')) {
    throw gitSourceError('git_path_invalid', `The path ${shown} must not contain control characters or backslashes`);
  }
  if (raw.startsWith('/') || raw.startsWith('~') || /^[A-Za-z]:/.test(raw)) {
    throw gitSourceError(
      'git_path_invalid',
      `The path ${shown} must be relative to the repository root (for example deploy/production)`,
    );
  }
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) {
    throw gitSourceError('git_path_outside_repo', `The path ${shown} must stay inside the repository: remove ".."`);
  }
  if (parts.includes('.git')) throw gitSourceError('git_path_invalid', `The path ${shown} must not point into .git`);
  return parts.join('/');
}

export type GitCredential = { username: string; password: string };

export function parseGitCredential(raw: GitCredential | undefined): GitCredential | undefined {
  if (raw === undefined) return undefined;
  const { username, password } = raw;
  if (password === '') {
    throw gitSourceError('git_credentials_invalid', 'The Git credential has an empty password or token');
  }
  if (username.length + password.length > MAX_CREDENTIAL_CHARS || CONTROL_CHARS.test(username + password)) {
    throw gitSourceError(
      'git_credentials_invalid',
      'The Git credential is too long or contains control characters (new lines are not allowed)',
    );
  }
  if (username.includes(':')) {
    throw gitSourceError('git_credentials_invalid', 'The Git credential username must not contain ":"');
  }
  return { username, password };
}
