import { readFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { FileToken, StaticToken, TOKEN_REFRESH_MS, type BearerToken } from './bearer-token.js';
import { KubeConfigError } from './kube-errors.js';
import { isRecord, stringField } from './kube-object.js';

/**
 * The YAML parser, loaded only for a kubeconfig file: in a pod (the usual case) the agent never
 * needs it, and it costs several MB of memory.
 */
function parseYaml(text: string): unknown {
  const yaml: unknown = createRequire(import.meta.url)('yaml');
  if (typeof yaml !== 'object' || yaml === null || !('parse' in yaml) || typeof yaml.parse !== 'function') {
    throw new KubeConfigError('the yaml package is not installed');
  }
  const parsed: unknown = yaml.parse(text);
  return parsed;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * How to reach and authenticate to the API server. Holds credentials (client key, token source):
 * log `description`, never the object.
 */
export type KubeConfig = {
  source: 'kubeconfig' | 'in-cluster';
  /** "kubeconfig <path> (context <name>)" or "in-cluster service account"; safe to log. */
  description: string;
  /** `https://host:port`, plus a path prefix when the kubeconfig's server has one. */
  server: string;
  /** PEM CA bundle; undefined means the system's CAs. */
  ca: Buffer | undefined;
  insecureSkipTlsVerify: boolean;
  tlsServerName: string | undefined;
  clientCert: Buffer | undefined;
  clientKey: Buffer | undefined;
  token: BearerToken | undefined;
  /** The context's namespace, or the pod's own namespace in-cluster; "default" when neither says. */
  namespace: string;
};

export type KubeConfigOptions = {
  /** The in-cluster service account files (token, ca.crt, namespace); tests point this at a temp dir. */
  serviceAccountDir?: string;
  tokenRefreshMs?: number;
  now?: () => number;
};

/**
 * The API server connection from the environment: the first file of KUBECONFIG when it is set,
 * otherwise the pod's service account. Throws KubeConfigError with one line naming what is wrong.
 */
export function loadKubeConfig(env: NodeJS.ProcessEnv, options: KubeConfigOptions = {}): KubeConfig {
  const kubeconfig = (env.KUBECONFIG ?? '')
    .split(delimiter)
    .map((p) => p.trim())
    .find((p) => p !== '');
  if (kubeconfig !== undefined) return fromKubeconfigFile(resolve(kubeconfig), options);
  return fromServiceAccount(env, options);
}

function fromServiceAccount(env: NodeJS.ProcessEnv, options: KubeConfigOptions): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST?.trim() ?? '';
  const port = env.KUBERNETES_SERVICE_PORT?.trim() ?? '';
  if (host === '') {
    throw new KubeConfigError(
      'no Kubernetes connection: KUBECONFIG is not set and KUBERNETES_SERVICE_HOST is missing (not running in a pod)',
    );
  }
  const portNumber = Number(port);
  if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65_535) {
    throw new KubeConfigError(`KUBERNETES_SERVICE_PORT must be a port number, got ${JSON.stringify(port)}`);
  }
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenPath = join(dir, 'token');
  let token: FileToken;
  try {
    token = new FileToken(tokenPath, options.tokenRefreshMs ?? TOKEN_REFRESH_MS, options.now);
  } catch {
    throw new KubeConfigError(
      `cannot read the service account token ${tokenPath} (is automountServiceAccountToken off?)`,
    );
  }
  const ca = readFile(join(dir, 'ca.crt'), 'the service account CA bundle');
  let namespace = 'default';
  try {
    namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || namespace;
  } catch {
    // Older or custom mounts lack it; callers that care pass their namespace explicitly.
  }
  return {
    source: 'in-cluster',
    description: 'in-cluster service account',
    server: `https://${host.includes(':') ? `[${host}]` : host}:${portNumber}`,
    ca,
    insecureSkipTlsVerify: false,
    tlsServerName: undefined,
    clientCert: undefined,
    clientKey: undefined,
    token,
    namespace,
  };
}

/** Parses one kubeconfig file (its current context only). Exported for tests and tools. */
export function fromKubeconfigFile(path: string, options: KubeConfigOptions = {}): KubeConfig {
  const where = `kubeconfig ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KubeConfigError(`cannot read ${where} (from KUBECONFIG): ${errorCode(err)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    throw new KubeConfigError(`${where} is not valid YAML: ${first}`);
  }
  if (!isRecord(doc)) throw new KubeConfigError(`${where} is not a kubeconfig (expected clusters, users and contexts)`);

  const contextName = stringField(doc, 'current-context') ?? '';
  if (contextName === '')
    throw new KubeConfigError(`${where} has no current-context (kubectl config use-context NAME)`);
  const context = named(doc, 'contexts', 'context', contextName, where);
  const clusterName = stringField(context, 'cluster') ?? '';
  if (clusterName === '') throw new KubeConfigError(`${where}: context "${contextName}" names no cluster`);
  const userName = stringField(context, 'user') ?? '';
  if (userName === '') throw new KubeConfigError(`${where}: context "${contextName}" names no user (credentials)`);
  const cluster = named(doc, 'clusters', 'cluster', clusterName, where);
  const user = named(doc, 'users', 'user', userName, where);
  const files = new FileReader(dirname(path));

  return {
    source: 'kubeconfig',
    description: `${where} (context ${contextName})`,
    ...clusterSettings(cluster, `${where}: cluster "${clusterName}"`, files),
    ...userCredentials(user, `${where}: user "${userName}"`, files, options),
    namespace: stringField(context, 'namespace') || 'default',
  };
}

type ClusterSettings = Pick<KubeConfig, 'server' | 'ca' | 'insecureSkipTlsVerify' | 'tlsServerName'>;

function clusterSettings(cluster: Record<string, unknown>, where: string, files: FileReader): ClusterSettings {
  if ('proxy-url' in cluster) throw new KubeConfigError(`${where} uses proxy-url, which niro-agent does not support`);
  const server = stringField(cluster, 'server') ?? '';
  if (server === '') throw new KubeConfigError(`${where} has no server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new KubeConfigError(`${where}: server is not a URL: ${JSON.stringify(server)}`);
  }
  if (url.protocol !== 'https:') throw new KubeConfigError(`${where}: server must be https://, got ${url.protocol}//`);
  const insecure = cluster['insecure-skip-tls-verify'] ?? false;
  if (typeof insecure !== 'boolean')
    throw new KubeConfigError(`${where}: insecure-skip-tls-verify must be true or false`);
  return {
    server: `${url.origin}${url.pathname.replace(/\/+$/, '')}`,
    ca: files.dataOrFile(cluster, 'certificate-authority', where),
    insecureSkipTlsVerify: insecure,
    tlsServerName: stringField(cluster, 'tls-server-name') || undefined,
  };
}

type UserCredentials = Pick<KubeConfig, 'clientCert' | 'clientKey' | 'token'>;

const UNSUPPORTED_USER_FIELDS: Record<string, string> = {
  exec: 'an exec credential plugin',
  'auth-provider': 'an auth-provider plugin',
  username: 'basic authentication (username/password)',
  password: 'basic authentication (username/password)',
  as: 'impersonation (as)',
  'as-groups': 'impersonation (as-groups)',
  'as-uid': 'impersonation (as-uid)',
};

function userCredentials(
  user: Record<string, unknown>,
  where: string,
  files: FileReader,
  options: KubeConfigOptions,
): UserCredentials {
  for (const [field, what] of Object.entries(UNSUPPORTED_USER_FIELDS)) {
    if (user[field] !== undefined && user[field] !== null) {
      throw new KubeConfigError(
        `${where} uses ${what}${pluginName(user[field])}, which niro-agent does not support; ` +
          'use a token, tokenFile or client certificate (e.g. a service account token from kubectl create token)',
      );
    }
  }
  const clientCert = files.dataOrFile(user, 'client-certificate', where);
  const clientKey = files.dataOrFile(user, 'client-key', where);
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    throw new KubeConfigError(`${where} has a client certificate or a client key but not both`);
  }
  let token: BearerToken | undefined;
  const tokenFile = stringField(user, 'tokenFile') ?? '';
  const tokenValue = stringField(user, 'token') ?? '';
  // As in client-go, a tokenFile wins over an inline token because it is the one that gets rotated.
  if (tokenFile !== '') {
    const path = files.resolve(tokenFile);
    try {
      token = new FileToken(path, options.tokenRefreshMs ?? TOKEN_REFRESH_MS, options.now);
    } catch {
      throw new KubeConfigError(`cannot read the tokenFile of ${where}: ${path} (missing or empty)`);
    }
  } else if (tokenValue !== '') {
    token = new StaticToken(tokenValue);
  }
  if (token === undefined && clientCert === undefined) {
    throw new KubeConfigError(`${where} has no credentials (token, tokenFile, or client-certificate and client-key)`);
  }
  return { clientCert, clientKey, token };
}

function pluginName(value: unknown): string {
  const name = stringField(value, 'command') ?? stringField(value, 'name');
  return name === undefined ? '' : ` (${JSON.stringify(name)})`;
}

/** The entry `{ name, <inner>: {...} }` of a kubeconfig list; an empty inner mapping is allowed. */
function named(
  doc: Record<string, unknown>,
  listKey: string,
  innerKey: string,
  name: string,
  where: string,
): Record<string, unknown> {
  const list = doc[listKey];
  const entry = Array.isArray(list) ? list.find((e) => isRecord(e) && e.name === name) : undefined;
  if (!isRecord(entry)) throw new KubeConfigError(`${where}: ${innerKey} "${name}" not found in ${listKey}`);
  const inner = entry[innerKey];
  if (inner === undefined || inner === null) return {};
  if (!isRecord(inner)) throw new KubeConfigError(`${where}: ${innerKey} "${name}" is not a mapping`);
  return inner;
}

/** Reads `<field>-data` (base64) or `<field>` (a path, relative to the kubeconfig's folder). */
class FileReader {
  constructor(private readonly base: string) {}

  resolve(path: string): string {
    return isAbsolute(path) ? path : join(this.base, path);
  }

  dataOrFile(section: Record<string, unknown>, field: string, where: string): Buffer | undefined {
    const data = stringField(section, `${field}-data`) ?? '';
    if (data !== '') {
      const bytes = Buffer.from(data, 'base64');
      if (bytes.length === 0) throw new KubeConfigError(`${where}: ${field}-data is not base64`);
      return bytes;
    }
    const path = stringField(section, field) ?? '';
    return path === '' ? undefined : readFile(this.resolve(path), `the ${field} file of ${where}`);
  }
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new KubeConfigError(`cannot read ${what}: ${path} (${errorCode(err)})`);
  }
}

function errorCode(err: unknown): string {
  if (isRecord(err) && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}
