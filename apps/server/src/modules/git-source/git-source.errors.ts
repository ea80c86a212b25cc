import { NiroError } from '../../errors.js';

/**
 * HTTP status of every git-source error code. 400: the request itself is wrong (fix the URL, ref
 * or path). 422: the request is well-formed but the repository cannot be used as given. 502: the
 * Git server could not be talked to. 504: the Git server or the repository took longer than the
 * time limit (retrying may help).
 */
export const GIT_SOURCE_ERROR_STATUS = {
  git_url_invalid: 400,
  git_url_not_https: 400,
  git_credentials_in_url: 400,
  git_credentials_invalid: 400,
  git_ref_invalid: 400,
  git_path_invalid: 400,
  git_path_outside_repo: 400,
  git_repo_not_found: 422,
  git_ref_not_found: 422,
  git_auth_failed: 422,
  git_redirect_not_allowed: 422,
  git_repo_too_large: 422,
  git_path_not_found: 422,
  git_symlink_outside_repo: 422,
  git_file_too_large: 422,
  git_file_not_utf8: 422,
  git_too_many_files: 422,
  git_no_manifests: 422,
  kustomize_unavailable: 422,
  kustomize_failed: 422,
  kustomize_invalid: 422,
  kustomize_remote_not_allowed: 422,
  kustomize_plugins_not_allowed: 422,
  kustomize_path_outside_repo: 422,
  manifests_too_large: 422,
  git_unavailable: 500,
  git_clone_failed: 502,
  git_timeout: 504,
} as const;

export type GitSourceErrorCode = keyof typeof GIT_SOURCE_ERROR_STATUS;

export function gitSourceError(
  code: GitSourceErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): NiroError {
  return new NiroError(GIT_SOURCE_ERROR_STATUS[code], code, message, details, { cause });
}

/** Removes secrets and local temp paths from text that came from git or kubectl. */
export class Redactor {
  private readonly secrets: string[];
  private readonly paths: string[];

  /** `paths` are replaced by paths relative to them (the checkout first, then the temp folder). */
  constructor(secrets: readonly string[], paths: readonly string[]) {
    // Longest first, so a value that contains another is replaced whole.
    this.secrets = longestFirst(secrets);
    this.paths = longestFirst(paths);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    for (const path of this.paths) {
      out = out.split(`${path}/`).join('').split(path).join('.');
    }
    return out;
  }
}

function longestFirst(values: readonly string[]): string[] {
  return [...new Set(values.filter((value) => value !== ''))].sort((a, b) => b.length - a.length);
}

const MAX_DETAIL_CHARS = 600;

/** The meaningful part of a tool's stderr (from its first error line), redacted and short enough for a message. */
export function stderrSummary(stderr: string, redactor: Redactor): string {
  const lines = redactor
    .redact(stderr)
    .split(/\r?\n|\r/)
    // klog's prefix ("E1126 06:23:55.318935   27684 run.go:72] ") says nothing to a user.
    .map((line) => line.replace(/^[EWIF]\d{4} [\d:.]+\s+\d+ [\w.-]+:\d+\] /, '').trim())
    .filter((line) => line !== '' && !line.startsWith('Cloning into') && !line.startsWith('hint:'));
  const firstError = lines.findIndex((line) => /^(fatal|error):/i.test(line));
  const picked = (firstError >= 0 ? lines.slice(firstError) : lines.slice(-3)).join(' ');
  return picked.length > MAX_DETAIL_CHARS ? `${picked.slice(0, MAX_DETAIL_CHARS)}…` : picked;
}
