import { readFileSync } from 'node:fs';
import https from 'node:https';
import { parseArgs } from 'node:util';
import {
  checkImagePull,
  credentialsForHost,
  IMAGE_PULL_ERROR_ANNOTATION,
  loopbackImageReference,
  type RegistryCredential,
} from './image-pull-check.js';

/**
 * The harness's image pulls (kube/README.md, "Image pulls"). scripts/kube-up.sh runs this file as a process of
 * the cluster: a mutating admission webhook that, when a pod is created with an image on a loopback registry,
 * checks that the image can be pulled with the pod's imagePullSecrets. When it cannot, the pod gets the
 * annotation below (container name -> runtime error), the pod-ready stage skips it and the pod-image-pull-*
 * stages report ErrImagePull / ImagePullBackOff like a kubelet. It runs at admission, before kwok sees the pod,
 * so a Deployment's rollout never completes with a pod that could not have started.
 *
 * Usage: node --conditions=@niro/source --import tsx image-pull-webhook.ts --port P --tls-cert F --tls-key F
 *          --api-server https://127.0.0.1:P --ca F --client-cert F --client-key F
 */

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const API_TIMEOUT_MS = 5_000;

type Options = {
  port: number;
  tlsCert: Buffer;
  tlsKey: Buffer;
  apiServer: URL;
  ca: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
};

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'api-server': { type: 'string' },
      ca: { type: 'string' },
      'client-cert': { type: 'string' },
      'client-key': { type: 'string' },
    },
    strict: true,
  });
  const required = (name: keyof typeof values): string => {
    const value = values[name];
    if (typeof value !== 'string' || value === '') throw new Error(`missing --${name}`);
    return value;
  };
  const port = Number(required('port'));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`invalid --port ${values.port}`);
  return {
    port,
    tlsCert: readFileSync(required('tls-cert')),
    tlsKey: readFileSync(required('tls-key')),
    apiServer: new URL(required('api-server')),
    ca: readFileSync(required('ca')),
    clientCert: readFileSync(required('client-cert')),
    clientKey: readFileSync(required('client-key')),
  };
}

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type ContainerImage = { name: string; image: string };

function containerImages(pod: unknown): ContainerImage[] {
  const spec = isRecord(pod) && isRecord(pod.spec) ? pod.spec : {};
  const out: ContainerImage[] = [];
  for (const list of [spec.initContainers, spec.containers]) {
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (isRecord(c) && typeof c.name === 'string' && typeof c.image === 'string') {
        out.push({ name: c.name, image: c.image });
      }
    }
  }
  return out;
}

function pullSecretNames(pod: unknown): string[] {
  const spec = isRecord(pod) && isRecord(pod.spec) ? pod.spec : {};
  if (!Array.isArray(spec.imagePullSecrets)) return [];
  return spec.imagePullSecrets.flatMap((s) => (isRecord(s) && typeof s.name === 'string' ? [s.name] : []));
}

/** GET on the API server as the cluster admin; null on 404. */
function apiGet(options: Options, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(path, options.apiServer),
      {
        method: 'GET',
        ca: options.ca,
        cert: options.clientCert,
        key: options.clientKey,
        headers: { accept: 'application/json' },
        timeout: API_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode === 404) return resolve(null);
          if (res.statusCode !== 200) return reject(new Error(`GET ${path}: HTTP ${String(res.statusCode)}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

/** The decoded docker config of each pull secret that exists (a missing one is skipped, as the kubelet does). */
async function pullSecretConfigs(options: Options, namespace: string, names: string[]): Promise<unknown[]> {
  const configs: unknown[] = [];
  for (const name of names) {
    const secret = await apiGet(
      options,
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
    );
    if (!isRecord(secret) || !isRecord(secret.data)) continue;
    const encoded = secret.data['.dockerconfigjson'] ?? secret.data['.dockercfg'];
    if (typeof encoded !== 'string') continue;
    try {
      configs.push(JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')));
    } catch {
      // A malformed secret provides no credentials, like the kubelet's keyring.
    }
  }
  return configs;
}

/** container name -> runtime error, for each container whose image cannot be pulled. */
async function pullErrors(options: Options, namespace: string, pod: unknown): Promise<Record<string, string>> {
  const errors: Record<string, string> = {};
  let configs: unknown[] | undefined;
  for (const container of containerImages(pod)) {
    const ref = loopbackImageReference(container.image);
    if (ref === null) continue;
    configs ??= await pullSecretConfigs(options, namespace, pullSecretNames(pod));
    const credentials: RegistryCredential[] = configs.flatMap((config) => credentialsForHost(config, ref.host));
    const result = await checkImagePull(ref, credentials);
    if (!result.ok) errors[container.name] = result.message;
  }
  return errors;
}

async function review(options: Options, body: unknown): Promise<Record<string, unknown>> {
  const request = isRecord(body) && isRecord(body.request) ? body.request : null;
  if (request === null || typeof request.uid !== 'string') throw new Error('not an AdmissionReview request');
  const uid = request.uid;
  const pod = request.object;
  const metadata = isRecord(pod) && isRecord(pod.metadata) ? pod.metadata : {};
  const namespace =
    typeof request.namespace === 'string'
      ? request.namespace
      : typeof metadata.namespace === 'string'
        ? metadata.namespace
        : 'default';
  const name =
    typeof metadata.name === 'string' && metadata.name !== '' ? metadata.name : `${String(metadata.generateName)}*`;
  const errors = await pullErrors(options, namespace, pod);
  const failed = Object.keys(errors);
  const response: Record<string, unknown> = { uid, allowed: true };
  if (failed.length > 0) {
    const value = JSON.stringify(errors);
    const patch = isRecord(metadata.annotations)
      ? [{ op: 'add', path: `/metadata/annotations/${IMAGE_PULL_ERROR_ANNOTATION.replace('/', '~1')}`, value }]
      : [{ op: 'add', path: '/metadata/annotations', value: { [IMAGE_PULL_ERROR_ANNOTATION]: value } }];
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  log(`pod ${namespace}/${name}: ${failed.length > 0 ? `cannot pull for ${failed.join(', ')}` : 'images pullable'}`);
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

function serve(options: Options): void {
  const server = https.createServer({ cert: options.tlsCert, key: options.tlsKey }, (req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (req.method !== 'POST' || !req.url?.startsWith('/mutate')) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      void (async () => {
        try {
          const reply = await review(options, JSON.parse(Buffer.concat(chunks).toString('utf8')));
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
        } catch (err) {
          // failurePolicy Ignore admits the pod unchanged.
          log(`review failed: ${err instanceof Error ? err.message : String(err)}`);
          res.writeHead(500, { 'content-type': 'text/plain' }).end('review failed');
        }
      })();
    });
  });
  server.listen(options.port, '127.0.0.1', () => log(`listening on https://127.0.0.1:${options.port}`));
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

serve(parseOptions(process.argv.slice(2)));
