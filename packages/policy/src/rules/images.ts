import type { Container, Rule, RuleHit } from '../types.js';
import { imageParts } from '../workloads.js';
import { serviceAccountName, serviceAccountOf } from './security.js';

function imageOf(container: Container): string | undefined {
  const image = container.spec.image;
  return typeof image === 'string' && image.trim() !== '' ? image.trim() : undefined;
}

const mutableImageTag: Rule = {
  id: 'mutable-image-tag',
  title: 'Image tag is mutable',
  category: 'images',
  description:
    'An image without a tag means `:latest`, and `:latest` names whatever was pushed last: two nodes can run different code under one Deployment, a restart can pull an untested build, and a rollback goes nowhere. A specific version tag is better; a digest (`@sha256:…`) pins the exact image, even next to a tag.',
  fix: 'Use a specific version tag (`nginx:1.27.3`), or better pin the digest (`nginx:1.27.3@sha256:…`).',
  reads: ['containers[].image', 'initContainers[].image', 'ephemeralContainers[].image'],
  severity: { nonProduction: 'low', production: 'high' },
  check({ containers }) {
    return containers.flatMap((container): RuleHit[] => {
      const image = imageOf(container);
      if (image === undefined) return [];
      const parts = imageParts(image);
      if (parts.digest !== undefined) return [];
      if (parts.tag !== undefined && parts.tag !== 'latest') return [];
      const full = `${parts.registry}/${parts.repository}:latest`;
      return [
        {
          message:
            parts.tag === undefined
              ? `Container "${container.name}" uses image "${image}" with no tag, which pulls ${full}.`
              : `Container "${container.name}" uses image "${image}": latest changes with every push.`,
          container: container.name,
          path: `${container.path}.image`,
        },
      ];
    });
  },
};

/** Registries that need credentials for private images (public images there need none; suppress those). */
const PRIVATE_REGISTRIES: readonly { pattern: RegExp; name: string }[] = [
  { pattern: /^ghcr\.io$/, name: 'GitHub Container Registry' },
  { pattern: /^([a-z0-9-]+\.)?gcr\.io$/, name: 'Google Container Registry' },
  { pattern: /^[a-z0-9-]+-docker\.pkg\.dev$/, name: 'Google Artifact Registry' },
  { pattern: /^[0-9a-z-]+\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/, name: 'Amazon ECR' },
  { pattern: /^quay\.io$/, name: 'Quay' },
];

export function privateRegistryName(registry: string): string | undefined {
  const host = registry.toLowerCase().replace(/:\d+$/, '');
  return PRIVATE_REGISTRIES.find(({ pattern }) => pattern.test(host))?.name;
}

/** The ServiceAccount may hold the secret where we cannot see it. */
const UNCERTAIN = { nonProduction: 'info', production: 'low' } as const;

function hasEntries(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

const privateImageNoCredential: Rule = {
  id: 'private-image-no-credential',
  title: 'Private registry image without pull credentials',
  category: 'images',
  description:
    "Images on ghcr.io, gcr.io, Artifact Registry (*-docker.pkg.dev), Amazon ECR and quay.io are usually private; without `imagePullSecrets` on the pod or on its ServiceAccount the pull fails with ImagePullBackOff, often only on a new node or after the image is evicted from the node's cache. Credentials configured on the nodes (k3s `registries.yaml`) are invisible here: suppress the finding then, or for a public image. When the pod names a ServiceAccount that is not in a partial manifest set, that account may carry the secret, so the finding is only info (low in production).",
  fix: 'Add `imagePullSecrets` with a docker-registry Secret to the pod spec or to its ServiceAccount.',
  reads: [
    'containers[].image',
    'initContainers[].image',
    'ephemeralContainers[].image',
    'imagePullSecrets',
    'serviceAccountName',
    'ServiceAccount imagePullSecrets',
  ],
  severity: { nonProduction: 'medium', production: 'high' },
  needs: ['ServiceAccount'],
  check({ workload, containers, related }) {
    if (hasEntries(workload.podSpec.imagePullSecrets)) return [];
    const account = serviceAccountOf(workload, related);
    if (hasEntries(account?.imagePullSecrets)) return [];
    const accountName = serviceAccountName(workload);
    const accountUnknown = account === undefined && !related.complete && accountName !== 'default';
    return containers.flatMap((container): RuleHit[] => {
      const image = imageOf(container);
      if (image === undefined) return [];
      const registry = privateRegistryName(imageParts(image).registry);
      if (registry === undefined) return [];
      return [
        {
          message: accountUnknown
            ? `Container "${container.name}" pulls "${image}" from ${registry} with no imagePullSecrets on the pod; ServiceAccount "${accountName}" is not in this set and may carry them.`
            : `Container "${container.name}" pulls "${image}" from ${registry} with no imagePullSecrets on the pod or its ServiceAccount "${accountName}".`,
          container: container.name,
          path: `${container.path}.image`,
          ...(accountUnknown ? { severity: UNCERTAIN } : {}),
        },
      ];
    });
  },
};

export const IMAGES_RULES: Rule[] = [mutableImageTag, privateImageNoCredential];
