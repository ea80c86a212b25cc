import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createRepo,
  createSelfSignedCert,
  startGitServer,
  type GitServer,
  type RepoFiles,
  type SelfSignedCert,
} from '@niro/testkit/git-server';
import { kubeHarnessAvailability } from '@niro/testkit/kube';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NiroError } from '../../errors.js';
import { fetchGitSource, type GitSource, type GitSourceOptions } from './git-source.js';

const USERNAME = 'deploy-bot';
const PASSWORD = 'hunter2-s3cr3t-T0KEN';

let tls: SelfSignedCert;
let base: string;
let root: string;
let scratch: string;
let markers: string;
let server: GitServer;
let authServer: GitServer;
let commits: { v1: string; main: string; feature: string };

/** Where kubectl comes from: the kube harness's build first, then the machine's. */
function findKubectl(): { path: string } | { reason: string } {
  const harness = kubeHarnessAvailability();
  if (harness.available && existsSync(join(harness.binDir, 'kubectl')))
    return { path: join(harness.binDir, 'kubectl') };
  if (existsSync('/usr/bin/kubectl')) return { path: '/usr/bin/kubectl' };
  return { reason: harness.available ? 'no kubectl in the harness binaries or /usr/bin' : harness.reason };
}
const kubectl = findKubectl();

function source(repo: string, ref: string, path: string, extra: Partial<GitSource> = {}): GitSource {
  return { url: server.repoUrl(repo), ref, path, ...extra };
}

function options(extra: GitSourceOptions = {}): GitSourceOptions {
  return {
    env: { GIT_SSL_CAINFO: tls.caFile },
    tmpDir: scratch,
    kubectlPath: 'path' in kubectl ? kubectl.path : null,
    timeoutMs: 20_000,
    ...extra,
  };
}

async function gitError(promise: Promise<unknown>, code: string): Promise<NiroError> {
  const error: unknown = await promise.then(
    () => new Error('expected fetchGitSource to fail'),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(NiroError);
  if (!(error instanceof NiroError)) throw error;
  expect({ code: error.code, message: error.message }).toEqual({ code, message: expect.any(String) });
  return error;
}

function expectNoEtcPasswd(error: NiroError): void {
  expect(JSON.stringify({ message: error.message, details: error.details })).not.toMatch(/root:x?:0:0/);
}

/** Command lines of live processes that mention `needle`. */
async function processesMentioning(needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) found.push(cmdline.split('\0').join(' '));
  }
  return found;
}

const deployment = (name: string, replicas = 1): string =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  replicas: ${String(replicas)}\n  selector:\n    matchLabels: {app: ${name}}\n  template:\n    metadata:\n      labels: {app: ${name}}\n    spec:\n      containers:\n        - name: ${name}\n          image: nginx:1.27\n`;
const configMap = (name: string): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  a: "1"\n`;

const BILLION_LAUGHS = [
  'apiVersion: v1',
  'kind: ConfigMap',
  'metadata: {name: lol}',
  'data:',
  '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((name, i) => {
    const previous = 'abcdefghi'[i] ?? 'a';
    return `  ${name}: &${name} [${Array.from({ length: 9 }, () => `*${previous}`).join(',')}]`;
  }),
  '',
].join('\n');

const PLAIN_FILES: RepoFiles = {
  'deploy/b.yaml': configMap('b'),
  'deploy/a.yml': configMap('a'),
  'deploy/nested/c.yaml': deployment('c'),
  'deploy/nested/deeper/d.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d', // no final newline
  'deploy/README.md': '# not a manifest\n',
  'deploy/values.json': '{}\n',
  'deploy/.hidden/secret.yaml': configMap('hidden'),
  'deploy/.ci.yaml': 'ci: true\n',
  'other/z.yaml': configMap('z'),
  alias: { symlink: 'deploy/nested' },
  'deploy/nested/same-as-c.yaml': { symlink: 'c.yaml' },
  'bomb/bomb.yaml': BILLION_LAUGHS,
  'single.yaml': configMap('single'),
  'empty/README.md': '# nothing to apply\n',
};

const KUSTOMIZE_FILES: RepoFiles = {
  'base/kustomization.yaml':
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - configmap.yaml\n',
  'base/deployment.yaml': deployment('web'),
  'base/configmap.yaml': configMap('settings'),
  'overlays/prod/kustomization.yaml': [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'namePrefix: prod-',
    'resources:',
    '  - ../../base',
    'labels:',
    '  - pairs: {env: prod}',
    'patches:',
    '  - path: replicas.yaml',
    '',
  ].join('\n'),
  'broken/kustomization.yaml': 'resources:\n  - bad.yaml\n',
  'broken/bad.yaml': 'kind: [unclosed\n',
  'overlays/prod/replicas.yaml':
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n',
};

const kustomization = (body: string): string =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${body}`;

const BULK_FILES: RepoFiles = {
  'big/huge.yaml': `data: "${'x'.repeat(3 * 1024 * 1024)}"\n`,
  'big/small.yaml': configMap('small'),
  ...Object.fromEntries(
    Array.from({ length: 600 }, (_, i) => [`many/cm-${String(i).padStart(3, '0')}.yaml`, configMap(`cm-${String(i)}`)]),
  ),
};

const HOSTILE_FILES: RepoFiles = {
  'link-file/app.yaml': configMap('fine'),
  'link-file/passwd.yaml': { symlink: '/etc/passwd' },
  'link-dir/app.yaml': configMap('fine'),
  'link-dir/host-root': { symlink: '/' },
  'chain/first.yaml': { symlink: 'second.yaml' },
  'chain/second.yaml': { symlink: '../hop/third.yaml' },
  'hop/third.yaml': { symlink: '../../../../../../../../../../etc/passwd' },
  'deep/a/b/c/ok.yaml': configMap('fine'),
  'deep/a/b/c/escape': { symlink: '../../../../../../../../../../../../etc' },
  outside: { symlink: '/etc' },
  'kust-remote-https/kustomization.yaml': kustomization(
    'resources:\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v1.0.6\n',
  ),
  'kust-remote-git/kustomization.yaml': kustomization('resources:\n  - git@github.com:org/repo.git//deploy?ref=main\n'),
  'kust-remote-host/kustomization.yaml': kustomization('components:\n  - github.com/org/repo/deploy?ref=v1\n'),
  'kust-remote-patch/kustomization.yaml': kustomization(
    'resources:\n  - cm.yaml\npatches:\n  - path: https://user:tok@example.com/patch.yaml\n',
  ),
  'kust-remote-patch/cm.yaml': configMap('cm'),
  'kust-generator/kustomization.yaml': kustomization('generators:\n  - generator.yaml\n'),
  'kust-generator/generator.yaml':
    'apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata:\n  name: x\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n',
  'kust-helm/kustomization.yaml': kustomization(
    'helmCharts:\n  - name: nginx\n    repo: https://charts.example.com\n    version: 1.0.0\n',
  ),
  'kust-outside/kustomization.yaml': kustomization('resources:\n  - ../../../../../../../../etc\n'),
  'kust-symlink/kustomization.yaml': kustomization('resources:\n  - stolen.yaml\n'),
  'kust-symlink/stolen.yaml': { symlink: '/etc/passwd' },
  'kust-configmap-file/kustomization.yaml': kustomization(
    'configMapGenerator:\n  - name: x\n    files:\n      - passwd=../../../../../../../../etc/passwd\n',
  ),
  'kust-clean/kustomization.yaml': kustomization('resources:\n  - cm.yaml\n'),
  'kust-clean/cm.yaml': configMap('clean'),
};

beforeAll(async () => {
  tls = await createSelfSignedCert();
  base = await mkdtemp(join(tmpdir(), 'niro-git-source-test-'));
  root = join(base, 'repos');
  scratch = join(base, 'scratch');
  markers = join(base, 'markers');
  await mkdir(scratch);
  await mkdir(markers);
  const v1 = await createRepo(join(root, 'plain.git'), { 'deploy/a.yaml': configMap('version-one') }, { tags: ['v1'] });
  const feature = await createRepo(
    join(root, 'plain.git'),
    { 'deploy/a.yaml': configMap('on-feature') },
    { branch: 'feature' },
  );
  const main = await createRepo(join(root, 'plain.git'), PLAIN_FILES);
  commits = { v1: v1.commit, main: main.commit, feature: feature.commit };
  await createRepo(join(root, 'kustomize.git'), KUSTOMIZE_FILES);
  await createRepo(join(root, 'hostile.git'), HOSTILE_FILES);
  await createRepo(join(root, 'bulk.git'), BULK_FILES);
  await createRepo(join(root, 'large.git'), {
    'deploy/cm.yaml': configMap('cm'),
    'blob.bin': randomBytes(1024 * 1024),
  });
  server = await startGitServer({ root, tls: { cert: tls.cert, key: tls.key } });
  authServer = await startGitServer({
    root,
    tls: { cert: tls.cert, key: tls.key },
    auth: { username: USERNAME, password: PASSWORD },
  });
  // eslint-disable-next-line no-console -- a visible reason when the kustomize rendering tests are skipped
  console.log(
    'reason' in kubectl
      ? `kubectl not found, the kustomize rendering tests are skipped: ${kubectl.reason}`
      : `kustomize tests use ${kubectl.path}`,
  );
});

afterAll(async () => {
  await server.stop();
  await authServer.stop();
  await rm(base, { recursive: true, force: true });
  await rm(tls.dir, { recursive: true, force: true });
});

afterEach(async () => {
  // Every import removes its temp folder, on success and on every error.
  expect(await readdir(scratch)).toEqual([]);
});

describe('fetchGitSource: plain YAML', () => {
  it('returns the YAML files under the path, sorted, nested, .yml too, dot entries and other files skipped', async () => {
    const result = await fetchGitSource(source('plain.git', 'main', 'deploy'), options());
    expect(result.rendered).toBe('plain');
    expect(result.commit).toBe(commits.main);
    expect(result.files.map((file) => file.path)).toEqual([
      'deploy/a.yml',
      'deploy/b.yaml',
      'deploy/nested/c.yaml',
      'deploy/nested/deeper/d.yaml',
    ]);
    expect(result.files[0]?.bytes).toBe(Buffer.byteLength(configMap('a')));
    expect(result.yaml).toBe(
      [configMap('a'), configMap('b'), deployment('c'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n'].join(
        '---\n',
      ),
    );
  });

  it('accepts the root ("" or "."), a single file and a symlinked folder inside the repository', async () => {
    const atRoot = await fetchGitSource(source('plain.git', 'main', '.'), options());
    expect(atRoot.files.map((file) => file.path)).toContain('other/z.yaml');
    expect(atRoot.files.map((file) => file.path)).not.toContain('deploy/.hidden/secret.yaml');

    const single = await fetchGitSource(source('plain.git', 'main', 'single.yaml'), options());
    expect(single.yaml).toBe(configMap('single'));

    const viaLink = await fetchGitSource(source('plain.git', 'main', 'alias'), options());
    expect(viaLink.files.map((file) => file.path)).toEqual(['alias/c.yaml', 'alias/deeper/d.yaml']);
  });

  it('fetches a tag, a branch and a full commit sha', async () => {
    const tag = await fetchGitSource(source('plain.git', 'v1', 'deploy'), options());
    expect(tag).toMatchObject({ commit: commits.v1, yaml: configMap('version-one') });

    const branch = await fetchGitSource(source('plain.git', 'feature', 'deploy'), options());
    expect(branch).toMatchObject({ commit: commits.feature, yaml: configMap('on-feature') });

    const sha = await fetchGitSource(source('plain.git', commits.v1.toUpperCase(), 'deploy'), options());
    expect(sha).toMatchObject({ commit: commits.v1, yaml: configMap('version-one') });
  });

  it('returns a YAML bomb as text: parsing it is the caller’s job, with the policy engine’s limits', async () => {
    const result = await fetchGitSource(source('plain.git', 'main', 'bomb'), options());
    expect(result.yaml).toBe(BILLION_LAUGHS);
    expect(result.files).toEqual([{ path: 'bomb/bomb.yaml', bytes: Buffer.byteLength(BILLION_LAUGHS) }]);
  });

  it('refuses unknown refs, commits, repositories, paths and empty folders with clear errors', async () => {
    const branch = await gitError(
      fetchGitSource(source('plain.git', 'nope', 'deploy'), options()),
      'git_ref_not_found',
    );
    expect(branch.message).toContain('nope');
    expect(branch.statusCode).toBe(422);
    await gitError(fetchGitSource(source('plain.git', 'a'.repeat(40), 'deploy'), options()), 'git_ref_not_found');
    await gitError(fetchGitSource(source('missing.git', 'main', 'deploy'), options()), 'git_repo_not_found');
    const missing = await gitError(
      fetchGitSource(source('plain.git', 'main', 'nowhere'), options()),
      'git_path_not_found',
    );
    expect(missing.message).toContain('nowhere');
    await gitError(fetchGitSource(source('plain.git', 'main', 'empty'), options()), 'git_no_manifests');
    await gitError(fetchGitSource(source('plain.git', 'main', 'deploy/README.md'), options()), 'git_no_manifests');
  });

  it('refuses output over maxOutputBytes', async () => {
    const error = await gitError(
      fetchGitSource(source('plain.git', 'main', 'deploy'), options({ maxOutputBytes: 200 })),
      'manifests_too_large',
    );
    expect(error.message).toContain('200 bytes');
  });
});

describe('fetchGitSource: kustomize', () => {
  it.skipIf(!('path' in kubectl))('renders a kustomization directory with kubectl kustomize', async () => {
    const result = await fetchGitSource(source('kustomize.git', 'main', 'overlays/prod'), options());
    expect(result.rendered).toBe('kustomize');
    expect(result.files.map((file) => file.path)).toEqual([
      'base/configmap.yaml',
      'base/deployment.yaml',
      'base/kustomization.yaml',
      'overlays/prod/kustomization.yaml',
      'overlays/prod/replicas.yaml',
    ]);
    expect(result.yaml).toContain('name: prod-web');
    expect(result.yaml).toContain('name: prod-settings');
    expect(result.yaml).toContain('replicas: 3');
    expect(result.yaml).toContain('env: prod');
    expect(result.yaml.split(/^---$/m)).toHaveLength(2);
  });

  it.skipIf(!('path' in kubectl))(
    'reports kustomize errors without local paths, and output over the limit',
    async () => {
      const error = await gitError(
        fetchGitSource(source('kustomize.git', 'main', 'broken'), options()),
        'kustomize_failed',
      );
      expect(error.message).toContain('broken');
      expect(error.message).not.toContain(scratch);
      await gitError(
        fetchGitSource(source('kustomize.git', 'main', 'overlays/prod'), options({ maxOutputBytes: 300 })),
        'manifests_too_large',
      );
    },
  );

  it('says kubectl is needed when it is not available', async () => {
    const error = await gitError(
      fetchGitSource(source('kustomize.git', 'main', 'overlays/prod'), options({ kubectlPath: null })),
      'kustomize_unavailable',
    );
    expect(error.message).toContain('kubectl');
    expect(error.message).toContain("install kubectl on the server's PATH");
    await gitError(
      fetchGitSource(source('kustomize.git', 'main', 'base'), options({ kubectlPath: join(base, 'no-kubectl') })),
      'kustomize_unavailable',
    );
  });
});

describe('fetchGitSource: credentials', () => {
  it('sends the credential, which never reaches an error message or a git command line', async () => {
    const seenCommandLines = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const line of await processesMentioning(`127.0.0.1:${new URL(authServer.origin).port}`))
          seenCommandLines.add(line);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    authServer.setBehaviour({ delayMs: 100 });
    try {
      const credential = { username: USERNAME, password: PASSWORD };
      const ok = await fetchGitSource(
        { url: authServer.repoUrl('plain.git'), ref: 'main', path: 'deploy', credential },
        options(),
      );
      expect(ok.commit).toBe(commits.main);
      const expected = `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}`;
      expect(authServer.requests.every((request) => request.authorization === expected)).toBe(true);

      const wrong = await gitError(
        fetchGitSource(
          {
            url: authServer.repoUrl('plain.git'),
            ref: 'main',
            path: 'deploy',
            credential: { ...credential, password: 'wrong-password' },
          },
          options(),
        ),
        'git_auth_failed',
      );
      expect(wrong.message).toContain('refused the credential');
      const none = await gitError(
        fetchGitSource({ url: authServer.repoUrl('plain.git'), ref: 'main', path: 'deploy' }, options()),
        'git_auth_failed',
      );
      expect(none.message).toContain('needs authentication');
      // A failure after authentication (unknown ref) also never shows the credential.
      const afterAuth = await gitError(
        fetchGitSource({ url: authServer.repoUrl('plain.git'), ref: 'nope', path: 'deploy', credential }, options()),
        'git_ref_not_found',
      );
      const base64 = Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64');
      for (const error of [wrong, none, afterAuth]) {
        const text = JSON.stringify({ message: error.message, details: error.details, stack: error.stack });
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain(base64);
      }
    } finally {
      authServer.setBehaviour({});
      watching = false;
      await watcher;
    }
    expect(seenCommandLines.size).toBeGreaterThan(0);
    for (const line of seenCommandLines) {
      expect(line).not.toContain(PASSWORD);
      expect(line).not.toContain(Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64'));
    }
  });
});

describe('fetchGitSource: hostile input and repositories', () => {
  it.each([
    ['http://127.0.0.1:1/plain.git', 'git_url_not_https'],
    ['file:///etc/plain.git', 'git_url_not_https'],
    ['git://127.0.0.1/plain.git', 'git_url_not_https'],
    ['ssh://git@127.0.0.1/plain.git', 'git_url_not_https'],
    ['git@github.com:org/repo.git', 'git_url_not_https'],
    ['/srv/git/plain.git', 'git_url_not_https'],
    ['../plain.git', 'git_url_not_https'],
    ['https://user:pa55word@127.0.0.1/plain.git', 'git_credentials_in_url'],
    ['https://ghp_tokenvalue@127.0.0.1/plain.git', 'git_credentials_in_url'],
    ['https://127.0.0.1/plain.git?private_token=abc', 'git_url_invalid'],
    ['https://127.0.0.1/plain.git --upload-pack=x', 'git_url_invalid'],
    ['', 'git_url_invalid'],
  ])('refuses the URL %j with %s', async (url, code) => {
    const before = server.requests.length;
    const error = await gitError(fetchGitSource({ url, ref: 'main', path: 'deploy' }, options()), code);
    expect(error.statusCode).toBe(400);
    expect(error.message).not.toContain('pa55word');
    expect(error.message).not.toContain('ghp_tokenvalue');
    expect(server.requests.length).toBe(before);
  });

  it('refuses ext:: URLs without running anything', async () => {
    const marker = join(markers, 'ext-ran');
    await gitError(
      fetchGitSource({ url: `ext::sh -c touch% ${marker}`, ref: 'main', path: '' }, options()),
      'git_url_not_https',
    );
    await gitError(
      fetchGitSource({ url: `ext::sh%20-c%20touch%20${marker}`, ref: 'main', path: '' }, options()),
      'git_url_not_https',
    );
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses refs that could be options or shell syntax, without contacting the server', async () => {
    const marker = join(markers, 'upload-pack-ran');
    const before = server.requests.length;
    for (const ref of [
      `--upload-pack=touch ${marker}`,
      '--upload-pack=touch',
      '-b',
      'main;rm',
      'main..other',
      'main\nother',
      'main other',
      '$(touch x)',
      '',
      'refs/heads/../../config',
      'main.lock',
      'a'.repeat(300),
    ]) {
      const error = await gitError(fetchGitSource(source('plain.git', ref, 'deploy'), options()), 'git_ref_invalid');
      expect(error.statusCode).toBe(400);
    }
    expect(server.requests.length).toBe(before);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses paths outside the repository', async () => {
    const up = await gitError(fetchGitSource(source('plain.git', 'main', '../..'), options()), 'git_path_outside_repo');
    expect(up.statusCode).toBe(400);
    await gitError(fetchGitSource(source('plain.git', 'main', 'deploy/../../..'), options()), 'git_path_outside_repo');
    await gitError(fetchGitSource(source('plain.git', 'main', '/etc'), options()), 'git_path_invalid');
    await gitError(fetchGitSource(source('plain.git', 'main', '.git'), options()), 'git_path_invalid');
    const viaLink = await gitError(
      fetchGitSource(source('hostile.git', 'main', 'outside'), options()),
      'git_symlink_outside_repo',
    );
    expect(viaLink.message).toContain('outside');
    await gitError(
      fetchGitSource(source('hostile.git', 'main', 'outside/passwd'), options()),
      'git_symlink_outside_repo',
    );
  });

  it.each([
    ['link-file', 'link-file/passwd.yaml'],
    ['link-dir', 'link-dir/host-root'],
    ['chain', 'chain/first.yaml'],
    ['deep', 'deep/a/b/c/escape'],
  ])('refuses %s: a symlink leading out of the checkout (%s)', async (path, offender) => {
    const error = await gitError(
      fetchGitSource(source('hostile.git', 'main', path), options()),
      'git_symlink_outside_repo',
    );
    expect(error.message).toContain(offender);
    expectNoEtcPasswd(error);
  });

  it('refuses a file over maxFileBytes and more files than maxFiles', async () => {
    const large = await gitError(fetchGitSource(source('bulk.git', 'main', 'big'), options()), 'git_file_too_large');
    expect(large.message).toContain('big/huge.yaml');
    expect(large.message).toContain('3.0 MiB');
    const many = await gitError(fetchGitSource(source('bulk.git', 'main', 'many'), options()), 'git_too_many_files');
    expect(many.message).toContain('500');
  });

  it('refuses a repository over maxRepoBytes', async () => {
    const error = await gitError(
      fetchGitSource(source('large.git', 'main', 'deploy'), options({ maxRepoBytes: 256 * 1024 })),
      'git_repo_too_large',
    );
    expect(error.message).toContain('256.0 KiB');
    // A highly compressible file: a small download that would expand on checkout.
    const expanding = await gitError(
      fetchGitSource(source('bulk.git', 'main', 'big'), options({ maxRepoBytes: 1024 * 1024 })),
      'git_repo_too_large',
    );
    expect(expanding.message).toContain('its files add up to');
    const fine = await fetchGitSource(
      source('large.git', 'main', 'deploy'),
      options({ maxRepoBytes: 4 * 1024 * 1024 }),
    );
    expect(fine.yaml).toBe(configMap('cm'));
  });

  it('stops a clone while it downloads once it passes maxRepoBytes', async () => {
    const slow = await startGitServer({
      root,
      tls: { cert: tls.cert, key: tls.key },
      behaviour: { throttleBytesPerSecond: 1024 * 1024 },
    });
    try {
      const error = await gitError(
        fetchGitSource(
          { url: slow.repoUrl('large.git'), ref: 'main', path: 'deploy' },
          options({ maxRepoBytes: 256 * 1024 }),
        ),
        'git_repo_too_large',
      );
      expect(error.message).toContain('the clone passed');
      expect(await processesMentioning(`127.0.0.1:${new URL(slow.origin).port}`)).toEqual([]);
    } finally {
      await slow.stop();
    }
  });

  it.each([
    ['kust-remote-https', 'kustomize_remote_not_allowed'],
    ['kust-remote-git', 'kustomize_remote_not_allowed'],
    ['kust-remote-host', 'kustomize_remote_not_allowed'],
    ['kust-remote-patch', 'kustomize_remote_not_allowed'],
    ['kust-generator', 'kustomize_plugins_not_allowed'],
    ['kust-helm', 'kustomize_plugins_not_allowed'],
    ['kust-outside', 'kustomize_path_outside_repo'],
    ['kust-configmap-file', 'kustomize_path_outside_repo'],
    ['kust-symlink', 'git_symlink_outside_repo'],
    // Clean itself, but kustomize could reach the repository's escaping symlinks.
    ['kust-clean', 'git_symlink_outside_repo'],
  ])('refuses the kustomization %s with %s before kubectl runs', async (path, code) => {
    const error = await gitError(fetchGitSource(source('hostile.git', 'main', path), options()), code);
    expect(error.message).toContain(path === 'kust-clean' ? 'symlink' : path);
    expect(error.message).not.toContain('user:tok');
    expectNoEtcPasswd(error);
  });

  it('does not follow a redirect to another host', async () => {
    const target = await startGitServer({ root, tls: { cert: tls.cert, key: tls.key }, host: '127.0.0.2' });
    const redirecting = await startGitServer({
      root,
      tls: { cert: tls.cert, key: tls.key },
      behaviour: { redirectTo: target.origin },
    });
    try {
      await gitError(
        fetchGitSource(
          {
            url: redirecting.repoUrl('plain.git'),
            ref: 'main',
            path: 'deploy',
            credential: { username: USERNAME, password: PASSWORD },
          },
          options(),
        ),
        'git_redirect_not_allowed',
      );
      expect(redirecting.requests.length).toBeGreaterThan(0);
      expect(target.requests).toEqual([]);
    } finally {
      await redirecting.stop();
      await target.stop();
    }
  });

  it('kills a clone that stalls at the time limit and leaves no process or file behind', async () => {
    const stalling = await startGitServer({ root, tls: { cert: tls.cert, key: tls.key }, behaviour: { stall: true } });
    const port = new URL(stalling.origin).port;
    try {
      const error = await gitError(
        fetchGitSource(
          { url: stalling.repoUrl('plain.git'), ref: 'main', path: 'deploy' },
          options({ timeoutMs: 1500 }),
        ),
        'git_timeout',
      );
      expect(error.statusCode).toBe(504);
      expect(stalling.requests.length).toBeGreaterThan(0);
      expect(await processesMentioning(`127.0.0.1:${port}`)).toEqual([]);
      expect(await processesMentioning(scratch)).toEqual([]);
    } finally {
      await stalling.stop();
    }
  });

  it('stops at once when the caller aborts', async () => {
    const stalling = await startGitServer({ root, tls: { cert: tls.cert, key: tls.key }, behaviour: { stall: true } });
    const controller = new AbortController();
    try {
      const pending = fetchGitSource(
        { url: stalling.repoUrl('plain.git'), ref: 'main', path: 'deploy' },
        options({ signal: controller.signal }),
      );
      setTimeout(() => controller.abort(new Error('deployment deleted')), 300);
      await expect(pending).rejects.toThrow('deployment deleted');
      expect(await processesMentioning(`127.0.0.1:${new URL(stalling.origin).port}`)).toEqual([]);
    } finally {
      await stalling.stop();
    }
  });
});
