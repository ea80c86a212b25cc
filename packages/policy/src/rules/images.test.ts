import { describe, expect, it } from 'vitest';
import { IMAGES_RULES, privateRegistryName } from './images.js';
import { container, cronJob, deployment, job, object, pod, ruleIn, runRule } from './test-support/rules-fixtures.js';

const rule = (id: string) => ruleIn(IMAGES_RULES, id);
const withImage = (name: string, image: string) => container(name, { image });

describe('images catalogue', () => {
  it('has the two image rules with the DESIGN 6 severities', () => {
    expect(IMAGES_RULES.map((r) => [r.id, r.category, r.severity])).toEqual([
      ['mutable-image-tag', 'images', { nonProduction: 'low', production: 'high' }],
      ['private-image-no-credential', 'images', { nonProduction: 'medium', production: 'high' }],
    ]);
    for (const r of IMAGES_RULES) {
      expect(r.description.length).toBeGreaterThan(80);
      expect(r.fix.length).toBeGreaterThan(20);
      expect(r.reads).toContain('containers[].image');
    }
  });
});

describe('mutable-image-tag', () => {
  const mutable = rule('mutable-image-tag');
  const images = (...list: string[]) => ({ containers: list.map((image, index) => withImage(`c${index}`, image)) });

  it('passes version tags and digests', () => {
    const spec = images(
      'nginx:1.27.3',
      'ghcr.io/acme/api:v2.1.0',
      'registry.example.com:5000/team/app:2024-06-01',
      'redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
    expect(runRule(mutable, deployment(spec))).toEqual([]);
  });

  it('lets a digest pin even next to latest', () => {
    const spec = images('nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
    expect(runRule(mutable, deployment(spec))).toEqual([]);
  });

  it('reports an image without a tag, naming the implied docker.io/library image', () => {
    const hits = runRule(mutable, deployment(images('nginx')));
    expect(hits).toEqual([
      expect.objectContaining({
        container: 'c0',
        path: 'spec.template.spec.containers[0].image',
        message: expect.stringContaining('docker.io/library/nginx:latest'),
      }),
    ]);
  });

  it('reports :latest, including fully spelled docker.io names', () => {
    const hits = runRule(
      mutable,
      deployment(images('nginx:latest', 'docker.io/library/nginx:latest', 'docker.io/bitnami/redis')),
    );
    expect(hits.map((hit) => hit.path)).toEqual([
      'spec.template.spec.containers[0].image',
      'spec.template.spec.containers[1].image',
      'spec.template.spec.containers[2].image',
    ]);
    expect(hits[2]?.message).toContain('docker.io/bitnami/redis:latest');
  });

  it('does not take a registry port for a tag', () => {
    const hits = runRule(mutable, deployment(images('registry:5000/app', 'localhost:5000/team/app:1.2')));
    expect(hits.map((hit) => hit.container)).toEqual(['c0']);
    expect(hits[0]?.message).toContain('registry:5000/app:latest');
  });

  it('checks init containers of Jobs and CronJobs', () => {
    const spec = { initContainers: [withImage('fetch', 'busybox')], containers: [withImage('task', 'acme/task:1.0')] };
    expect(runRule(mutable, job(spec)).map((hit) => hit.path)).toEqual(['spec.template.spec.initContainers[0].image']);
    expect(runRule(mutable, cronJob(spec)).map((hit) => hit.path)).toEqual([
      'spec.jobTemplate.spec.template.spec.initContainers[0].image',
    ]);
  });

  it('skips containers without an image', () => {
    expect(runRule(mutable, pod({ containers: [{ name: 'app' }] }))).toEqual([]);
  });
});

describe('private-image-no-credential', () => {
  const credential = rule('private-image-no-credential');

  it('recognises the private registries', () => {
    for (const registry of [
      'ghcr.io',
      'gcr.io',
      'eu.gcr.io',
      'europe-west1-docker.pkg.dev',
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      'quay.io',
    ]) {
      expect(privateRegistryName(registry), registry).toBeDefined();
    }
    for (const registry of ['docker.io', 'registry.k8s.io', 'registry.example.com:5000', 'notghcr.io', 'pkg.dev']) {
      expect(privateRegistryName(registry), registry).toBeUndefined();
    }
  });

  it('passes public registries without credentials', () => {
    const spec = { containers: [withImage('a', 'nginx:1.27'), withImage('b', 'registry.k8s.io/pause:3.9')] };
    expect(runRule(credential, deployment(spec))).toEqual([]);
  });

  it('passes a private image with imagePullSecrets on the pod', () => {
    const spec = { imagePullSecrets: [{ name: 'ghcr' }], containers: [withImage('api', 'ghcr.io/acme/api:1.0')] };
    expect(runRule(credential, deployment(spec))).toEqual([]);
  });

  it('reports each private image without credentials, at its path', () => {
    const spec = {
      initContainers: [withImage('migrate', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/migrate:3')],
      containers: [
        withImage('api', 'ghcr.io/acme/api:1.0'),
        withImage('proxy', 'nginx:1.27'),
        withImage('worker', 'europe-docker.pkg.dev/acme/images/worker:7'),
      ],
    };
    const hits = runRule(credential, deployment(spec));
    expect(hits.map((hit) => [hit.container, hit.path])).toEqual([
      ['api', 'spec.template.spec.containers[0].image'],
      ['worker', 'spec.template.spec.containers[2].image'],
      ['migrate', 'spec.template.spec.initContainers[0].image'],
    ]);
    expect(hits[0]?.message).toContain('GitHub Container Registry');
    expect(hits.every((hit) => hit.severity === undefined)).toBe(true);
  });

  it('passes when the pod ServiceAccount carries imagePullSecrets', () => {
    const account = object('ServiceAccount', 'api', { imagePullSecrets: [{ name: 'quay' }] }, 'shop');
    const spec = { serviceAccountName: 'api', containers: [withImage('api', 'quay.io/acme/api:1.0')] };
    expect(runRule(credential, deployment(spec, { namespace: 'shop' }), [account])).toEqual([]);
    const defaultAccount = object('ServiceAccount', 'default', { imagePullSecrets: [{ name: 'quay' }] }, 'shop');
    const noName = { containers: [withImage('api', 'quay.io/acme/api:1.0')] };
    expect(runRule(credential, deployment(noName, { namespace: 'shop' }), [defaultAccount])).toEqual([]);
  });

  it('reports when the ServiceAccount in the set has no imagePullSecrets', () => {
    const account = object('ServiceAccount', 'api', {}, 'shop');
    const spec = { serviceAccountName: 'api', containers: [withImage('api', 'gcr.io/acme/api:1.0')] };
    const hits = runRule(credential, cronJob(spec, { namespace: 'shop' }), [account]);
    expect(hits).toEqual([
      expect.objectContaining({ path: 'spec.jobTemplate.spec.template.spec.containers[0].image' }),
    ]);
    expect(hits[0]?.severity).toBeUndefined();
  });

  it('is only info/low when a named ServiceAccount is missing from a partial set', () => {
    const spec = { serviceAccountName: 'api', containers: [withImage('api', 'ghcr.io/acme/api:1.0')] };
    const partial = runRule(credential, deployment(spec), [], { complete: false });
    expect(partial[0]?.severity).toEqual({ nonProduction: 'info', production: 'low' });
    expect(partial[0]?.message).toContain('not in this set');
    const complete = runRule(credential, deployment(spec), [], { complete: true });
    expect(complete[0]?.severity).toBeUndefined();
  });
});
