import { KubeApiError } from '../kube/kube-errors.js';
import { isRecord } from '../kube/kube-object.js';
import type { KubeApi } from '../kube/types.js';

/** Where objects of one kind live in the API. */
export type ResourceInfo = {
  /** "" for the core group. */
  group: string;
  version: string;
  kind: string;
  /** The plural in the URL, e.g. "deployments". */
  resource: string;
  namespaced: boolean;
};

type Kinds = Map<string, ResourceInfo>;

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** `/api/v1/namespaces/ns/configmaps/name`; without a namespace, the collection across all namespaces. */
export function resourcePath(info: ResourceInfo, namespace?: string, name?: string): string {
  const base = info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
  const scope = info.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const item = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  return `${base}${scope}/${info.resource}${item}`;
}

/**
 * Kind → resource through API discovery (`/api/v1`, `/apis/<group>/<version>`), one request per
 * group version, cached for the agent's life. A miss asks again, so kinds of a CustomResourceDefinition
 * applied a moment ago become known once the API serves them.
 */
export class Discovery {
  readonly #cache = new Map<string, Promise<Kinds>>();

  constructor(private readonly api: KubeApi) {}

  /** The resource of `kind` in `apiVersion`, or undefined when the API server does not serve it. */
  async resolve(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    const cached = this.#cache.get(apiVersion);
    if (cached !== undefined) {
      const found = (await cached).get(kind);
      if (found !== undefined) return found;
    }
    return (await this.#fetch(apiVersion)).get(kind);
  }

  #fetch(apiVersion: string): Promise<Kinds> {
    const { group, version } = splitApiVersion(apiVersion);
    const path = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
    const pending = this.api.request('GET', path).then(
      (body) => readResourceList(body, group, version),
      (err: unknown) => {
        // A group version the server does not serve (yet) is an empty list, not a failure.
        if (err instanceof KubeApiError && err.status === 404) return new Map<string, ResourceInfo>();
        throw err;
      },
    );
    this.#cache.set(apiVersion, pending);
    pending.catch(() => {
      if (this.#cache.get(apiVersion) === pending) this.#cache.delete(apiVersion);
    });
    return pending;
  }
}

function readResourceList(body: unknown, group: string, version: string): Kinds {
  const kinds: Kinds = new Map();
  const resources = isRecord(body) && Array.isArray(body.resources) ? body.resources : [];
  for (const entry of resources) {
    if (!isRecord(entry)) continue;
    const { name, kind, namespaced } = entry;
    // Subresources ("pods/log") share their parent's kind.
    if (typeof name !== 'string' || name.includes('/') || typeof kind !== 'string') continue;
    if (!kinds.has(kind)) kinds.set(kind, { group, version, kind, resource: name, namespaced: namespaced === true });
  }
  return kinds;
}
