import type { Container, KubeObject, ObjectRef, RelatedObjects, Workload } from './types.js';

/** Where the pod spec sits in each workload kind. */
const POD_SPEC_PATHS: Readonly<Record<string, string>> = {
  Deployment: 'spec.template.spec',
  StatefulSet: 'spec.template.spec',
  DaemonSet: 'spec.template.spec',
  ReplicaSet: 'spec.template.spec',
  ReplicationController: 'spec.template.spec',
  Job: 'spec.template.spec',
  CronJob: 'spec.jobTemplate.spec.template.spec',
  Pod: 'spec',
  PodTemplate: 'template.spec',
};

/** Kinds whose `spec.replicas` says how many pods run (a DaemonSet's count is per node). */
const REPLICATED_KINDS = new Set(['Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController']);
const RUN_TO_COMPLETION_KINDS = new Set(['Job', 'CronJob']);

export const WORKLOAD_KINDS: readonly string[] = Object.keys(POD_SPEC_PATHS);

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const splitPaths = new Map<string, string[]>();

/** The value at a dotted path (no indexes), or undefined when any step is missing. */
export function valueAt(value: unknown, path: string): unknown {
  let keys = splitPaths.get(path);
  if (keys === undefined) {
    keys = path.split('.');
    // Rules read a few fixed paths; the bound only guards against a caller with endless ones.
    if (splitPaths.size < 1000) splitPaths.set(path, keys);
  }
  let current = value;
  for (const key of keys) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** The string entries of a map; labels and annotations with other values are ignored. */
export function stringMap(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') out[key] = entry;
  return out;
}

export function objectRef(object: KubeObject): ObjectRef {
  const { namespace } = object.metadata;
  return typeof namespace === 'string' && namespace !== ''
    ? { kind: object.kind, namespace, name: object.metadata.name }
    : { kind: object.kind, name: object.metadata.name };
}

/**
 * The workload an object stands for, or undefined when it is not one (a Service, a ConfigMap)
 * or has no pod spec to read.
 */
export function toWorkload(object: KubeObject): Workload | undefined {
  const podSpecPath = POD_SPEC_PATHS[object.kind];
  if (podSpecPath === undefined) return undefined;
  const podSpec = valueAt(object, podSpecPath);
  if (!isRecord(podSpec)) return undefined;
  const metadataPath = podSpecPath === 'spec' ? 'metadata' : `${podSpecPath.slice(0, -'spec'.length)}metadata`;
  const replicas = valueAt(object, 'spec.replicas');
  return {
    ref: objectRef(object),
    object,
    replicas: REPLICATED_KINDS.has(object.kind)
      ? typeof replicas === 'number' && Number.isInteger(replicas) && replicas >= 0
        ? replicas
        : 1
      : undefined,
    podLabels: stringMap(valueAt(object, `${metadataPath}.labels`)),
    podAnnotations: stringMap(valueAt(object, `${metadataPath}.annotations`)),
    podSpec,
    podSpecPath,
    longRunning: !RUN_TO_COMPLETION_KINDS.has(object.kind),
  };
}

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

/**
 * Every container of the workload: regular, init and ephemeral ones, each with its path in the
 * object. Entries that are not mappings are skipped but keep their index in the path.
 */
export function containersOf(workload: Workload): Container[] {
  const out: Container[] = [];
  for (const list of CONTAINER_LISTS) {
    const items = workload.podSpec[list];
    if (!Array.isArray(items)) continue;
    items.forEach((item: unknown, index) => {
      if (!isRecord(item)) return;
      out.push({
        name: typeof item.name === 'string' ? item.name : '',
        list,
        index,
        spec: item,
        path: `${workload.podSpecPath}.${list}[${index}]`,
        // A sidecar (an init container that restarts always) lives as long as the pod.
        longRunning:
          list === 'containers' ? workload.longRunning : list === 'initContainers' && item.restartPolicy === 'Always',
      });
    });
  }
  return out;
}

/** The namespace an object lives in, `default` when it names none. */
export function namespaceOf(object: KubeObject): string {
  const { namespace } = object.metadata;
  return typeof namespace === 'string' && namespace !== '' ? namespace : 'default';
}

/**
 * The objects rules may look at beside a workload. `complete` is true for a cluster's inventory
 * (what is absent does not exist) and false for a manifest set (what is absent was not given).
 */
export function relatedObjects(objects: readonly KubeObject[], complete: boolean): RelatedObjects {
  let index: Map<string, KubeObject[]> | undefined;
  const none: readonly KubeObject[] = [];
  return {
    complete,
    all: objects,
    inNamespace(kind, namespace) {
      if (index === undefined) {
        index = new Map();
        for (const object of objects) {
          const key = `${object.kind}\n${namespaceOf(object)}`;
          const list = index.get(key);
          if (list === undefined) index.set(key, [object]);
          else list.push(object);
        }
      }
      return index.get(`${kind}\n${namespace}`) ?? none;
    },
  };
}

export type ImageParts = {
  /** `docker.io` when the image names no registry. */
  registry: string;
  /** With `library/` for official Docker Hub images: `nginx` is `library/nginx`. */
  repository: string;
  tag?: string;
  digest?: string;
};

/**
 * Splits an image reference the way the container runtime reads it: the first component is a
 * registry only if it has a dot or a port, or is `localhost`; otherwise the image is on Docker Hub.
 */
export function imageParts(image: string): ImageParts {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  // A colon after the last slash separates the tag; before it, it is a registry port.
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  let registry = 'docker.io';
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  return {
    registry,
    repository,
    ...(tag === undefined || tag === '' ? {} : { tag }),
    ...(digest === undefined || digest === '' ? {} : { digest }),
  };
}

/**
 * A `metav1.LabelSelector` (matchLabels and matchExpressions) against a set of labels. Runs for
 * every workload against every selector of its namespace, so it allocates nothing.
 */
export function labelSelectorMatches(selector: unknown, labels: Readonly<Record<string, string>>): boolean {
  if (!isRecord(selector)) return true;
  const { matchLabels, matchExpressions } = selector;
  if (isRecord(matchLabels)) {
    for (const key in matchLabels) {
      const value = matchLabels[key];
      if (typeof value === 'string' && labels[key] !== value) return false;
    }
  }
  if (!Array.isArray(matchExpressions)) return true;
  for (const expression of matchExpressions) {
    if (!isRecord(expression)) continue;
    const { key, operator } = expression;
    if (typeof key !== 'string' || typeof operator !== 'string') continue;
    if (!expressionMatches(operator, key, arrayOf(expression.values), labels)) return false;
  }
  return true;
}

function expressionMatches(
  operator: string,
  key: string,
  values: readonly unknown[],
  labels: Readonly<Record<string, string>>,
): boolean {
  const present = Object.hasOwn(labels, key);
  switch (operator) {
    case 'In':
      return present && values.includes(labels[key]);
    case 'NotIn':
      return !present || !values.includes(labels[key]);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    default:
      return false;
  }
}

const arrayOf = (value: unknown): readonly unknown[] => (Array.isArray(value) ? value : []);
