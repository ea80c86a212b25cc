import type {
  CreateClusterResponse,
  EnrollmentInfo,
  EnrollRequest,
  EnrollResponse,
  Environment,
  Labels,
} from '@niro/protocol';
import { bearer, createUserWithToken, type TestApp, type TestUser } from './app.js';

type InjectResponse = Awaited<ReturnType<TestApp['app']['inject']>>;

export type TestClusterOptions = {
  /** Who creates it; a new owner of a new root org when absent. */
  owner?: TestUser;
  /** Needed only when the owner can create in several orgs. */
  orgId?: string;
  /** A fresh unique name when absent. */
  name?: string;
  environment?: Environment;
  labels?: Labels;
};

export type TestCluster = CreateClusterResponse & { owner: TestUser };

export type EnrolledTestCluster = {
  clusterId: string;
  orgId: string;
  name: string;
  agentKey: string;
  owner: TestUser;
};

let clusterSeq = 0;

/** Creates a cluster through `POST /api/v1/clusters`, as the dashboard does; it stays pending, not enrolled. */
export async function createTestCluster(t: TestApp, options: TestClusterOptions = {}): Promise<TestCluster> {
  const owner = options.owner ?? (await createUserWithToken(t.services, { role: 'owner' }));
  const payload: Record<string, unknown> = { name: options.name ?? `test-cluster-${++clusterSeq}` };
  if (options.orgId !== undefined) payload.orgId = options.orgId;
  if (options.environment !== undefined) payload.environment = options.environment;
  if (options.labels !== undefined) payload.labels = options.labels;
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/clusters', headers: bearer(owner.token), payload });
  if (res.statusCode !== 201) throw new Error(`creating a cluster failed: ${res.statusCode} ${res.body}`);
  return { ...res.json<CreateClusterResponse>(), owner };
}

/** The body an agent sends to `POST /api/agent/v1/enroll`. */
export const enrollRequest = (token: string, uid = 'kube-system-uid-1'): EnrollRequest => ({
  token,
  agent: { version: '0.1.0' },
  cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid },
});

/** Sends an enrollment request as an agent would, whatever the answer. */
export function postEnroll(t: TestApp, token: string, uid?: string): Promise<InjectResponse> {
  return t.app.inject({ method: 'POST', url: '/api/agent/v1/enroll', payload: enrollRequest(token, uid) });
}

/** Exchanges an enrollment token for an agent key; fails unless the server accepts it. */
export async function enrollAgent(t: TestApp, token: string, uid?: string): Promise<EnrollResponse> {
  const res = await postEnroll(t, token, uid);
  if (res.statusCode !== 200) throw new Error(`enrollment failed: ${res.statusCode} ${res.body}`);
  return res.json<EnrollResponse>();
}

/**
 * A cluster as an installed agent leaves it: created through the API, then enrolled with its
 * token. Pending until its first heartbeat.
 */
export async function enrollTestCluster(
  t: TestApp,
  options: TestClusterOptions & { uid?: string } = {},
): Promise<EnrolledTestCluster> {
  const { cluster, enrollment, owner } = await createTestCluster(t, options);
  const { agentKey } = await enrollAgent(t, enrollment.token, options.uid ?? `uid-${cluster.id}`);
  return { clusterId: cluster.id, orgId: cluster.orgId, name: cluster.name, agentKey, owner };
}

/** Issues a new enrollment token and enrolls with it, as reinstalling the agent does; the old key stops working. */
export async function reenrollTestCluster(t: TestApp, cluster: EnrolledTestCluster, uid?: string): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: `/api/v1/clusters/${cluster.clusterId}/enrollment-token`,
    headers: bearer(cluster.owner.token),
    payload: {},
  });
  if (res.statusCode !== 201) throw new Error(`issuing an enrollment token failed: ${res.statusCode} ${res.body}`);
  const { token } = res.json<EnrollmentInfo>();
  return (await enrollAgent(t, token, uid ?? `uid-${cluster.clusterId}`)).agentKey;
}
