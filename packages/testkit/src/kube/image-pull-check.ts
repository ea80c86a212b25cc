import http from 'node:http';

/**
 * The registry side of the harness's image pulls (see image-pull-webhook.ts): decides, as a kubelet's container
 * runtime would, whether an image on a loopback registry can be pulled with the given credentials, using the
 * Docker Registry v2 API over plain HTTP. Messages follow containerd's wording so tests and the agent see what a
 * real node reports.
 */

/** Set by the webhook on a pod whose images cannot all be pulled: JSON `{"<container>": "<runtime error>"}`. */
export const IMAGE_PULL_ERROR_ANNOTATION = 'niro.test/image-pull-error';

export type ImageReference = {
  /** As written in the pod spec. */
  image: string;
  /** `127.0.0.1:5000`, `localhost:5000`, `[::1]:5000` */
  host: string;
  repository: string;
  /** A tag or a `sha256:` digest. */
  reference: string;
};

export type RegistryCredential = { username: string; password: string };

export type PullCheck = { ok: true } | { ok: false; message: string };

const LOOPBACK_HOST = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d{1,5})?$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;
const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const REQUEST_TIMEOUT_MS = 5_000;

/** The image's registry, repository and tag/digest, or null when the image is not on a loopback registry. */
export function loopbackImageReference(image: string): ImageReference | null {
  const slash = image.indexOf('/');
  if (slash < 0) return null;
  const host = image.slice(0, slash);
  if (!LOOPBACK_HOST.test(host)) return null;
  let rest = image.slice(slash + 1);
  let reference = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
    // A tag next to a digest is ignored by runtimes: the digest wins.
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) rest = rest.slice(0, colon);
    if (!DIGEST.test(reference)) return null;
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!TAG.test(reference)) return null;
    }
  }
  if (!REPOSITORY.test(rest)) return null;
  return { image, host, repository: rest, reference };
}

/**
 * Credentials for `host` from a `.dockerconfigjson` (`{"auths": {...}}`) or legacy `.dockercfg` document, matched
 * like the kubelet's keyring: the key's host (scheme and path dropped) equals the image's registry host.
 */
export function credentialsForHost(dockerConfig: unknown, host: string): RegistryCredential[] {
  if (!isRecord(dockerConfig)) return [];
  const auths = isRecord(dockerConfig.auths) ? dockerConfig.auths : dockerConfig;
  const found: RegistryCredential[] = [];
  for (const [key, entry] of Object.entries(auths)) {
    if (registryKeyHost(key) !== host.toLowerCase() || !isRecord(entry)) continue;
    const credential = entryCredential(entry);
    if (credential) found.push(credential);
  }
  return found;
}

function registryKeyHost(key: string): string {
  return key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
}

function entryCredential(entry: Record<string, unknown>): RegistryCredential | null {
  if (typeof entry.username === 'string' && typeof entry.password === 'string') {
    return { username: entry.username, password: entry.password };
  }
  if (typeof entry.auth === 'string') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return null;
}

/**
 * Tries each credential, then (without any) an anonymous pull; the image is pullable when one attempt finds the
 * manifest. Otherwise the message of the most telling failure (not found beats unauthorized beats the rest).
 */
export async function checkImagePull(ref: ImageReference, credentials: RegistryCredential[]): Promise<PullCheck> {
  const attempts: (RegistryCredential | null)[] = credentials.length > 0 ? credentials : [null];
  let failure: { rank: number; detail: string; code: string } | null = null;
  for (const credential of attempts) {
    const result = await headManifest(ref, credential);
    if (result.kind === 'found') return { ok: true };
    const rank = result.kind === 'not-found' ? 3 : result.kind === 'unauthorized' ? 2 : 1;
    if (failure === null || rank > failure.rank) {
      failure = { rank, detail: result.detail, code: result.kind === 'not-found' ? 'NotFound' : 'Unknown' };
    }
  }
  const detail = failure?.detail ?? 'no attempt was made';
  const code = failure?.code ?? 'Unknown';
  return {
    ok: false,
    message:
      `rpc error: code = ${code} desc = failed to pull and unpack image "${ref.image}": ` +
      `failed to resolve reference "${ref.image}": ${detail}`,
  };
}

type HeadResult =
  | { kind: 'found' }
  | { kind: 'not-found'; detail: string }
  | { kind: 'unauthorized'; detail: string }
  | { kind: 'error'; detail: string };

async function headManifest(ref: ImageReference, credential: RegistryCredential | null): Promise<HeadResult> {
  const url = `http://${ref.host}/v2/${ref.repository}/manifests/${ref.reference}`;
  const basic = credential
    ? `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`
    : null;
  let response: RawResponse;
  try {
    response = await request('HEAD', url, basic);
    if (response.status === 401) {
      const challenge = bearerChallenge(response.headers['www-authenticate']);
      if (challenge) {
        const token = await fetchToken(challenge, ref.repository, basic);
        if (token.kind !== 'token') return token;
        response = await request('HEAD', url, `Bearer ${token.token}`);
      }
    }
  } catch (err) {
    return { kind: 'error', detail: `failed to do request: Head "${url}": ${dialError(err, ref.host)}` };
  }
  if (response.status === 200) return { kind: 'found' };
  const unexpected = `unexpected status from HEAD request to ${url}: ${response.status} ${statusText(response.status)}`;
  if (response.status === 404) return { kind: 'not-found', detail: `${ref.image}: not found` };
  if (response.status === 401 || response.status === 403) return { kind: 'unauthorized', detail: unexpected };
  return { kind: 'error', detail: unexpected };
}

type BearerChallenge = { realm: string; service: string | undefined };

function bearerChallenge(header: string | string[] | undefined): BearerChallenge | null {
  const value = Array.isArray(header) ? header.join(', ') : header;
  if (value === undefined || !/^bearer\s/i.test(value)) return null;
  const params = new Map<string, string>();
  for (const m of value.matchAll(/(\w+)="([^"]*)"/g)) {
    if (m[1] !== undefined && m[2] !== undefined) params.set(m[1].toLowerCase(), m[2]);
  }
  const realm = params.get('realm');
  return realm === undefined ? null : { realm, service: params.get('service') };
}

async function fetchToken(
  challenge: BearerChallenge,
  repository: string,
  basic: string | null,
): Promise<{ kind: 'token'; token: string } | { kind: 'unauthorized' | 'error'; detail: string }> {
  let realm: URL;
  try {
    realm = new URL(challenge.realm);
  } catch {
    return { kind: 'error', detail: `failed to authorize: invalid token realm "${challenge.realm}"` };
  }
  // The harness never dials anything but loopback, whatever a registry points at.
  if (realm.protocol !== 'http:' || !LOOPBACK_HOST.test(realm.host)) {
    return { kind: 'error', detail: `failed to authorize: token realm ${challenge.realm} is not a loopback http URL` };
  }
  if (challenge.service !== undefined) realm.searchParams.set('service', challenge.service);
  realm.searchParams.set('scope', `repository:${repository}:pull`);
  const response = await request('GET', realm.toString(), basic);
  if (response.status === 401 || response.status === 403) {
    const what = basic === null ? 'fetch anonymous token' : 'fetch oauth token';
    return {
      kind: 'unauthorized',
      detail: `failed to authorize: failed to ${what}: unexpected status from GET request to ${realm.toString()}: ${response.status} ${statusText(response.status)}`,
    };
  }
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    body = null;
  }
  const token = isRecord(body) ? (body.token ?? body.access_token) : undefined;
  if (response.status !== 200 || typeof token !== 'string' || token === '') {
    return {
      kind: 'error',
      detail: `failed to authorize: unexpected status from GET request to ${realm.toString()}: ${response.status} ${statusText(response.status)}`,
    };
  }
  return { kind: 'token', token };
}

type RawResponse = { status: number; headers: http.IncomingHttpHeaders; body: string };

function request(method: 'HEAD' | 'GET', url: string, authorization: string | null): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        headers: { accept: MANIFEST_ACCEPT, ...(authorization === null ? {} : { authorization }) },
        timeout: REQUEST_TIMEOUT_MS,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('i/o timeout')));
    req.on('error', reject);
    req.end();
  });
}

function dialError(err: unknown, host: string): string {
  const code = isRecord(err) && typeof err.code === 'string' ? err.code : '';
  if (code === 'ECONNREFUSED') return `dial tcp ${host}: connect: connection refused`;
  return `dial tcp ${host}: ${err instanceof Error ? err.message : String(err)}`;
}

function statusText(status: number): string {
  return http.STATUS_CODES[status] ?? '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
