import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadKubeConfig } from './kube-config.js';
import { KubeConfigError } from './kube-errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'niro-kube-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const CA_PEM = '-----BEGIN CERTIFICATE-----\nnot-checked-here\n-----END CERTIFICATE-----\n';

type Doc = Record<string, unknown>;

function kubeconfig(user: Doc, cluster: Doc = {}, context: Doc = {}): Doc {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', ...context } }],
    'current-context': 'ctx',
  };
}

function write(name: string, content: string | Doc): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : stringify(content));
  return path;
}

function loadError(env: NodeJS.ProcessEnv): string {
  try {
    loadKubeConfig(env, { serviceAccountDir: join(dir, 'no-such-dir') });
  } catch (err) {
    expect(err).toBeInstanceOf(KubeConfigError);
    const message = err instanceof Error ? err.message : '';
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected loadKubeConfig to fail');
}

describe('loadKubeConfig from KUBECONFIG', () => {
  it('reads a bearer token, the CA data, the TLS server name and the namespace of the current context', () => {
    const path = write(
      'config',
      kubeconfig(
        { token: 'tok-123' },
        { 'certificate-authority-data': Buffer.from(CA_PEM).toString('base64'), 'tls-server-name': 'kubernetes' },
        { namespace: 'apps' },
      ),
    );
    const config = loadKubeConfig({ KUBECONFIG: `${path}:/elsewhere/ignored` });
    expect(config.source).toBe('kubeconfig');
    expect(config.server).toBe('https://127.0.0.1:6443');
    expect(config.ca?.toString()).toBe(CA_PEM);
    expect(config.tlsServerName).toBe('kubernetes');
    expect(config.insecureSkipTlsVerify).toBe(false);
    expect(config.token?.current()).toBe('tok-123');
    expect(config.clientCert).toBeUndefined();
    expect(config.namespace).toBe('apps');
    expect(config.description).toBe(`kubeconfig ${path} (context ctx)`);
  });

  it('reads client certificate, key and CA from files relative to the kubeconfig', () => {
    write('ca.crt', CA_PEM);
    write('client.crt', 'CERT');
    write('client.key', 'KEY');
    const path = write(
      'config',
      kubeconfig(
        { 'client-certificate': 'client.crt', 'client-key': join(dir, 'client.key') },
        { 'certificate-authority': 'ca.crt', 'insecure-skip-tls-verify': true, server: 'https://example.test/k8s/c1/' },
      ),
    );
    const config = loadKubeConfig({ KUBECONFIG: path });
    expect(config.clientCert?.toString()).toBe('CERT');
    expect(config.clientKey?.toString()).toBe('KEY');
    expect(config.ca?.toString()).toBe(CA_PEM);
    expect(config.insecureSkipTlsVerify).toBe(true);
    expect(config.server).toBe('https://example.test/k8s/c1');
    expect(config.token).toBeUndefined();
    expect(config.namespace).toBe('default');
  });

  it('prefers a tokenFile to an inline token, and does not show the token when the config is logged', () => {
    write('token', 'from-file\n');
    const path = write('config', kubeconfig({ token: 'inline', tokenFile: 'token' }));
    const config = loadKubeConfig({ KUBECONFIG: path });
    expect(config.token?.current()).toBe('from-file');
    expect(JSON.stringify(config)).not.toContain('from-file');
  });

  it.each([
    [
      'an exec plugin',
      kubeconfig({ exec: { command: 'aws', args: ['eks', 'get-token'] } }),
      'user "u" uses an exec credential plugin ("aws"), which niro-agent does not support',
    ],
    [
      'an auth-provider',
      kubeconfig({ 'auth-provider': { name: 'oidc' } }),
      'user "u" uses an auth-provider plugin ("oidc"), which niro-agent does not support',
    ],
    ['basic auth', kubeconfig({ username: 'admin', password: 'x' }), 'basic authentication (username/password)'],
    ['a proxy', kubeconfig({ token: 't' }, { 'proxy-url': 'http://proxy:3128' }), 'uses proxy-url'],
    ['no credentials', kubeconfig({}), 'user "u" has no credentials'],
    ['a key without a certificate', kubeconfig({ 'client-key-data': 'S0VZ' }), 'but not both'],
    ['a plain http server', kubeconfig({ token: 't' }, { server: 'http://127.0.0.1:8080' }), 'server must be https://'],
    [
      'a missing context',
      { ...kubeconfig({ token: 't' }), 'current-context': 'prod' },
      'context "prod" not found in contexts',
    ],
    ['no current context', { ...kubeconfig({ token: 't' }), 'current-context': '' }, 'has no current-context'],
    [
      'a missing cluster',
      kubeconfig({ token: 't' }, {}, { cluster: 'other' }),
      'cluster "other" not found in clusters',
    ],
    ['a missing server', { ...kubeconfig({ token: 't' }), clusters: [{ name: 'c', cluster: {} }] }, 'has no server'],
    ['a list for a document', [1, 2], 'is not a kubeconfig'],
  ])('refuses %s with one line naming it', (_what, doc, expected) => {
    const path = write('config', stringify(doc));
    expect(loadError({ KUBECONFIG: path })).toContain(expected);
  });

  it('names a CA file that cannot be read', () => {
    const path = write('config', kubeconfig({ token: 't' }, { 'certificate-authority': 'missing-ca.crt' }));
    expect(loadError({ KUBECONFIG: path })).toBe(
      `cannot read the certificate-authority file of kubeconfig ${path}: cluster "c": ${join(dir, 'missing-ca.crt')} (ENOENT)`,
    );
  });

  it('names a kubeconfig that is missing or not YAML', () => {
    expect(loadError({ KUBECONFIG: join(dir, 'nope') })).toBe(
      `cannot read kubeconfig ${join(dir, 'nope')} (from KUBECONFIG): ENOENT`,
    );
    const path = write('config', 'clusters: [unclosed');
    expect(loadError({ KUBECONFIG: path })).toMatch(/^kubeconfig .* is not valid YAML: /);
  });
});

describe('loadKubeConfig in a pod', () => {
  it('uses the service account token, CA and namespace, and reads the token again after a minute', () => {
    write('token', 'first\n');
    write('ca.crt', CA_PEM);
    write('namespace', 'niro-system');
    const saDir = dir;
    let now = 1_000;
    const config = loadKubeConfig(
      { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      { serviceAccountDir: saDir, now: () => now },
    );
    expect(config.source).toBe('in-cluster');
    expect(config.server).toBe('https://[fd00::1]:443');
    expect(config.ca?.toString()).toBe(CA_PEM);
    expect(config.namespace).toBe('niro-system');
    expect(config.token?.current()).toBe('first');

    write('token', 'second');
    now += 59_999;
    expect(config.token?.current()).toBe('first');
    now += 1;
    expect(config.token?.current()).toBe('second');

    // The kubelet swaps the file: a failed read keeps the last good token.
    rmSync(join(saDir, 'token'));
    now += 60_000;
    expect(config.token?.current()).toBe('second');

    // A 401 makes the next request read the file at once.
    write('token', 'third');
    config.token?.invalidate();
    expect(config.token?.current()).toBe('third');
  });

  it('says what is missing', () => {
    expect(loadError({})).toBe(
      'no Kubernetes connection: KUBECONFIG is not set and KUBERNETES_SERVICE_HOST is missing (not running in a pod)',
    );
    expect(loadError({ KUBERNETES_SERVICE_HOST: '10.43.0.1', KUBERNETES_SERVICE_PORT: 'https' })).toBe(
      'KUBERNETES_SERVICE_PORT must be a port number, got "https"',
    );
    expect(loadError({ KUBERNETES_SERVICE_HOST: '10.43.0.1', KUBERNETES_SERVICE_PORT: '443' })).toBe(
      `cannot read the service account token ${join(dir, 'no-such-dir', 'token')} (is automountServiceAccountToken off?)`,
    );
  });
});
