import { KubeApiError } from './kube/kube-errors.js';
import type { KubeApi } from './kube/types.js';
import { cpuMilli, list, obj, str, wholeUnits } from './inventory/raw.js';

export type UsageMap = Record<string, [number, number]>;

const METRICS = '/apis/metrics.k8s.io/v1beta1';

/** True when the error means "metrics.k8s.io is not served here" rather than a passing failure. */
export const metricsAbsent = (err: unknown): boolean =>
  err instanceof KubeApiError && (err.status === 404 || err.status === 503 || err.status === 403);

/** Node usage `[cpuMilli, memoryBytes]` from metrics-server. */
export async function readNodeUsage(api: KubeApi): Promise<UsageMap> {
  const body = await api.request('GET', `${METRICS}/nodes`);
  const out: UsageMap = {};
  for (const item of list(body, 'items')) {
    const name = str(item, 'metadata', 'name');
    const usage = obj(item, 'usage');
    if (name === undefined || usage === undefined) continue;
    out[name] = [cpuMilli(usage.cpu) ?? 0, wholeUnits(usage.memory) ?? 0];
  }
  return out;
}

/** Pod usage summed over containers, keyed "ns/name". */
export async function readPodUsage(api: KubeApi): Promise<UsageMap> {
  const body = await api.request('GET', `${METRICS}/pods`);
  const out: UsageMap = {};
  for (const item of list(body, 'items')) {
    const name = str(item, 'metadata', 'name');
    const ns = str(item, 'metadata', 'namespace');
    if (name === undefined || ns === undefined) continue;
    let cpu = 0;
    let memory = 0;
    for (const c of list(item, 'containers')) {
      cpu += cpuMilli(obj(c, 'usage')?.cpu) ?? 0;
      memory += wholeUnits(obj(c, 'usage')?.memory) ?? 0;
    }
    out[`${ns}/${name}`] = [cpu, memory];
  }
  return out;
}
