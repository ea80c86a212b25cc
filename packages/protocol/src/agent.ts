import { Type, type Static } from 'typebox';

/**
 * Agent protocol v1 (DESIGN section 3). Unknown fields are accepted and ignored so that newer
 * agents can add some; a missing or mistyped field is a 400. Golden messages under
 * `packages/protocol/test/fixtures/` keep older agents working.
 */
export const AGENT_PROTOCOL_VERSION = 1;
export const AGENT_KEY_PREFIX = 'niro_ak_';
export const ENROLLMENT_TOKEN_PREFIX = 'niro_et_';

const Str = (max = 1024) => Type.String({ maxLength: max });
const NonNeg = () => Type.Number({ minimum: 0 });

export const EnrollRequest = Type.Object({
  token: Str(256),
  agent: Type.Object({ version: Str(64) }),
  cluster: Type.Object({
    kubernetesVersion: Str(64),
    distribution: Str(64),
    uid: Str(128),
  }),
});
export type EnrollRequest = Static<typeof EnrollRequest>;

export const EnrollResponse = Type.Object({
  clusterId: Type.String(),
  agentKey: Type.String(),
  heartbeatIntervalSeconds: Type.Integer(),
});
export type EnrollResponse = Static<typeof EnrollResponse>;

export const Resources = Type.Object({
  cpuMilli: Type.Optional(NonNeg()),
  memoryBytes: Type.Optional(NonNeg()),
});
export type Resources = Static<typeof Resources>;

const ResourcesWithPods = Type.Object({
  cpuMilli: Type.Optional(NonNeg()),
  memoryBytes: Type.Optional(NonNeg()),
  pods: Type.Optional(NonNeg()),
});

export const NodeCondition = Type.Object({
  type: Str(128),
  status: Str(32),
  reason: Type.Optional(Str(256)),
  message: Type.Optional(Str(4096)),
});

export const Node = Type.Object({
  name: Str(253),
  ready: Type.Boolean(),
  roles: Type.Array(Str(128), { maxItems: 32 }),
  kubeletVersion: Str(64),
  capacity: ResourcesWithPods,
  allocatable: ResourcesWithPods,
  conditions: Type.Array(NodeCondition, { maxItems: 64 }),
  unschedulable: Type.Boolean(),
});
export type Node = Static<typeof Node>;

export const Container = Type.Object({
  name: Str(253),
  image: Str(1024),
  ready: Type.Boolean(),
  restarts: NonNeg(),
  state: Type.Union([Type.Literal('running'), Type.Literal('waiting'), Type.Literal('terminated')]),
  reason: Type.Optional(Str(256)),
  lastTerminationReason: Type.Optional(Str(256)),
  requests: Resources,
  limits: Resources,
  probes: Type.Object({
    liveness: Type.Boolean(),
    readiness: Type.Boolean(),
    startup: Type.Boolean(),
  }),
  privileged: Type.Boolean(),
});
export type Container = Static<typeof Container>;

export const Pod = Type.Object({
  namespace: Str(253),
  name: Str(253),
  uid: Str(128),
  phase: Str(32),
  nodeName: Type.Optional(Str(253)),
  owner: Type.Optional(Type.Object({ kind: Str(128), name: Str(253) })),
  startedAt: Type.Optional(Str(64)),
  imagePullSecrets: Type.Array(Str(253), { maxItems: 64 }),
  containers: Type.Array(Container, { maxItems: 128 }),
  initContainers: Type.Optional(Type.Array(Container, { maxItems: 128 })),
});
export type Pod = Static<typeof Pod>;

export const WorkloadKind = Type.Union([
  Type.Literal('Deployment'),
  Type.Literal('StatefulSet'),
  Type.Literal('DaemonSet'),
]);

export const Workload = Type.Object({
  kind: WorkloadKind,
  namespace: Str(253),
  name: Str(253),
  replicas: NonNeg(),
  readyReplicas: NonNeg(),
  updatedReplicas: NonNeg(),
  availableReplicas: NonNeg(),
  generation: NonNeg(),
  observedGeneration: NonNeg(),
  revisionHistoryLimit: Type.Optional(NonNeg()),
  template: Type.Object({}),
  deploymentId: Type.Optional(Str(128)),
});
export type Workload = Static<typeof Workload>;

export const KubeEvent = Type.Object({
  namespace: Str(253),
  involvedObject: Type.Object({ kind: Str(128), name: Str(253) }),
  reason: Str(256),
  message: Str(4096),
  count: NonNeg(),
  firstTimestamp: Str(64),
  lastTimestamp: Str(64),
});
export type KubeEvent = Static<typeof KubeEvent>;

/** Limits keep one heartbeat bounded in memory; a real 1,000-pod cluster is far below them. */
export const INVENTORY_LIMITS = { nodes: 5_000, pods: 100_000, workloads: 50_000, events: 1_000 };

const Hash = Str(128);

export const FullInventory = Type.Object({
  mode: Type.Literal('full'),
  hash: Hash,
  nodes: Type.Array(Node, { maxItems: INVENTORY_LIMITS.nodes }),
  pods: Type.Optional(Type.Array(Pod, { maxItems: INVENTORY_LIMITS.pods })),
  workloads: Type.Array(Workload, { maxItems: INVENTORY_LIMITS.workloads }),
});
export type FullInventory = Static<typeof FullInventory>;

export const DeltaInventory = Type.Object({
  mode: Type.Literal('delta'),
  baseHash: Hash,
  hash: Hash,
  upsert: Type.Object({
    nodes: Type.Optional(Type.Array(Node, { maxItems: INVENTORY_LIMITS.nodes })),
    pods: Type.Optional(Type.Array(Pod, { maxItems: INVENTORY_LIMITS.pods })),
    workloads: Type.Optional(Type.Array(Workload, { maxItems: INVENTORY_LIMITS.workloads })),
  }),
  remove: Type.Object({
    nodes: Type.Optional(Type.Array(Str(253), { maxItems: INVENTORY_LIMITS.nodes })),
    pods: Type.Optional(Type.Array(Str(507), { maxItems: INVENTORY_LIMITS.pods })),
    workloads: Type.Optional(Type.Array(Str(640), { maxItems: INVENTORY_LIMITS.workloads })),
  }),
});
export type DeltaInventory = Static<typeof DeltaInventory>;

export const SameInventory = Type.Object({ mode: Type.Literal('same'), hash: Hash });
export type SameInventory = Static<typeof SameInventory>;

export const Inventory = Type.Union([FullInventory, DeltaInventory, SameInventory]);
export type Inventory = Static<typeof Inventory>;

export const Capabilities = Type.Object({
  pods: Type.Boolean(),
  logs: Type.Boolean(),
  apply: Type.Boolean(),
  selfUpdate: Type.Boolean(),
});
export type Capabilities = Static<typeof Capabilities>;

const UsagePair = Type.Tuple([NonNeg(), NonNeg()]);

export const Heartbeat = Type.Object({
  seq: Type.Integer({ minimum: 0 }),
  sentAt: Str(64),
  agent: Type.Object({ version: Str(64), capabilities: Capabilities }),
  cluster: Type.Object({ kubernetesVersion: Str(64), distribution: Str(64) }),
  inventory: Inventory,
  usage: Type.Optional(
    Type.Object({
      nodes: Type.Optional(Type.Record(Type.String(), UsagePair)),
      pods: Type.Optional(Type.Record(Type.String(), UsagePair)),
    }),
  ),
  events: Type.Array(KubeEvent, { maxItems: INVENTORY_LIMITS.events }),
});
export type Heartbeat = Static<typeof Heartbeat>;

export const HeartbeatReply = Type.Object({
  ack: Type.Integer(),
  resendFull: Type.Optional(Type.Literal(true)),
  heartbeatIntervalSeconds: Type.Integer(),
  desiredAgentVersion: Type.Optional(Type.String()),
});
export type HeartbeatReply = Static<typeof HeartbeatReply>;

export { podKey, workloadKey } from './keys.js';
