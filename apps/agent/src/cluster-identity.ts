import type { KubeApi } from './kube/types.js';
import { str } from './inventory/raw.js';

export type ClusterIdentity = { uid: string; kubernetesVersion: string; distribution: string };

/** "k3s", "rke2", … from the server's version string ("v1.35.8+k3s1"), else "kubernetes". */
export function distributionOf(gitVersion: string): string {
  const v = gitVersion.toLowerCase();
  if (v.includes('+k3s')) return 'k3s';
  if (v.includes('+rke2')) return 'rke2';
  if (v.includes('-eks-')) return 'eks';
  if (v.includes('-gke.')) return 'gke';
  if (v.includes('+k0s')) return 'k0s';
  return 'kubernetes';
}

/** The cluster's stable identity (the kube-system namespace UID) and its version (DESIGN 3.1). */
export async function readClusterIdentity(api: KubeApi): Promise<ClusterIdentity> {
  const [version, kubeSystem] = await Promise.all([
    api.request('GET', '/version'),
    api.request('GET', '/api/v1/namespaces/kube-system'),
  ]);
  const gitVersion = str(version, 'gitVersion') ?? 'unknown';
  const uid = str(kubeSystem, 'metadata', 'uid');
  if (uid === undefined) throw new Error('the kube-system namespace has no uid');
  return { uid, kubernetesVersion: gitVersion, distribution: distributionOf(gitVersion) };
}
