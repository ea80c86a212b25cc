/** An error the CLI reports as `niro: <message>` with a chosen exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** Wrong or missing arguments: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** The server did not answer at all. */
export class UnreachableError extends CliError {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    const detail = connectionDetail(cause);
    super(`cannot reach Niro at ${url}: is the server running?${detail === null ? '' : ` (${detail})`}`, 1, { cause });
    this.name = 'UnreachableError';
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

/** The underlying reason, unless it is the plain "connection refused" the message already implies. */
function connectionDetail(err: unknown): string | null {
  const root = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (!(root instanceof Error)) return null;
  const code = codeOf(root);
  if (
    code === 'ECONNREFUSED' ||
    (root instanceof AggregateError && root.errors.every((e) => codeOf(e) === 'ECONNREFUSED'))
  ) {
    return null;
  }
  return root.message || code || null;
}

/** fetch() reports network failures as `TypeError: fetch failed` with the real cause inside. */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof TypeError && err.message === 'fetch failed') return true;
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = codeOf(e);
    if (code !== undefined && CONNECTION_CODES.has(code)) return true;
    if (e instanceof AggregateError && e.errors.some((x) => isConnectionError(x))) return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}
