import { Type, type Static } from 'typebox';
import { LOG_LIMITS } from './commands.js';

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

/**
 * Kinds the policy rules read beside workloads (DESIGN 6: `missing-pdb`, `single-replica` with an
 * HPA, `no-network-policy`, `default-service-account`, `selector-mismatch`). Added to protocol v1
 * additively: an agent that does not report them sends no `objects`, and the server then runs
 * only the rules that need no second object.
 */
export const POLICY_OBJECT_KINDS = [
  'Service',
  'PodDisruptionBudget',
  'HorizontalPodAutoscaler',
  'NetworkPolicy',
  'ServiceAccount',
] as const;
export type PolicyObjectKind = (typeof POLICY_OBJECT_KINDS)[number];

/**
 * One such object, trimmed by the agent to the fields policy reads, so status churn (an HPA's
 * current replicas, a Service's load-balancer address) never makes a heartbeat delta:
 * Service `spec.{selector,ports,type}`, PodDisruptionBudget `spec.{selector,minAvailable,maxUnavailable}`,
 * HorizontalPodAutoscaler `spec.{scaleTargetRef,minReplicas,maxReplicas}`, NetworkPolicy
 * `spec.{podSelector,policyTypes}`, ServiceAccount `automountServiceAccountToken` and the names of its
 * `imagePullSecrets`.
 */
export const PolicyObject = Type.Object({
  kind: Type.Union([
    Type.Literal('Service'),
    Type.Literal('PodDisruptionBudget'),
    Type.Literal('HorizontalPodAutoscaler'),
    Type.Literal('NetworkPolicy'),
    Type.Literal('ServiceAccount'),
  ]),
  namespace: Str(253),
  name: Str(253),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  spec: Type.Optional(Type.Object({})),
  automountServiceAccountToken: Type.Optional(Type.Boolean()),
  /** ServiceAccount only: the names of its image pull Secrets. */
  imagePullSecrets: Type.Optional(Type.Array(Str(253), { maxItems: 64 })),
});
export type PolicyObject = Static<typeof PolicyObject>;

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
export const INVENTORY_LIMITS = { nodes: 5_000, pods: 100_000, workloads: 50_000, objects: 50_000, events: 1_000 };

const Hash = Str(128);

export const FullInventory = Type.Object({
  mode: Type.Literal('full'),
  hash: Hash,
  nodes: Type.Array(Node, { maxItems: INVENTORY_LIMITS.nodes }),
  pods: Type.Optional(Type.Array(Pod, { maxItems: INVENTORY_LIMITS.pods })),
  workloads: Type.Array(Workload, { maxItems: INVENTORY_LIMITS.workloads }),
  /** Policy objects (keys "Kind/ns/name"); absent from agents that do not report them. */
  objects: Type.Optional(Type.Array(PolicyObject, { maxItems: INVENTORY_LIMITS.objects })),
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
    objects: Type.Optional(Type.Array(PolicyObject, { maxItems: INVENTORY_LIMITS.objects })),
  }),
  remove: Type.Object({
    nodes: Type.Optional(Type.Array(Str(253), { maxItems: INVENTORY_LIMITS.nodes })),
    pods: Type.Optional(Type.Array(Str(507), { maxItems: INVENTORY_LIMITS.pods })),
    workloads: Type.Optional(Type.Array(Str(640), { maxItems: INVENTORY_LIMITS.workloads })),
    objects: Type.Optional(Type.Array(Str(640), { maxItems: INVENTORY_LIMITS.objects })),
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

// ---------------------------------------------------------------------------------------------
// Command channel (DESIGN 3.3): the same messages over WebSocket and long-poll.

export const CommandKindSchema = Type.Union([
  Type.Literal('ping'),
  Type.Literal('apply'),
  Type.Literal('delete'),
  Type.Literal('diff'),
  Type.Literal('logs'),
  Type.Literal('logs-stop'),
  Type.Literal('self-update'),
]);

const Json = Type.Record(Type.String(), Type.Unknown());

export const PingPayload = Type.Object({});
export const ApplyPayload = Type.Object({
  manifests: Str(2 * 1024 * 1024),
  namespace: Type.Optional(Str(253)),
  deploymentId: Type.Optional(Str(128)),
  revision: Type.Optional(Type.Integer({ minimum: 0 })),
  prune: Type.Optional(Type.Boolean()),
});
export type ApplyPayload = Static<typeof ApplyPayload>;
/** `delete`: the objects labelled with `deploymentId`, or the objects in `manifests`. */
export const DeletePayload = Type.Object({
  deploymentId: Type.Optional(Str(128)),
  manifests: Type.Optional(Str(2 * 1024 * 1024)),
  namespace: Type.Optional(Str(253)),
});
export type DeletePayload = Static<typeof DeletePayload>;
export const DiffPayload = ApplyPayload;
export type DiffPayload = ApplyPayload;
export const LogsPayload = Type.Object({
  streamId: Str(128),
  namespace: Str(253),
  pod: Str(253),
  container: Type.Optional(Str(253)),
  tailLines: Type.Optional(Type.Integer({ minimum: 0, maximum: LOG_LIMITS.maxTailLines })),
  follow: Type.Optional(Type.Boolean()),
});
export type LogsPayload = Static<typeof LogsPayload>;
export const LogsStopPayload = Type.Object({ streamId: Str(128) });
export const SelfUpdatePayload = Type.Object({ image: Str(1024) });

export const CommandMessage = Type.Object({
  type: Type.Literal('command'),
  id: Str(64),
  kind: CommandKindSchema,
  payload: Json,
  issuedAt: Str(64),
  expiresAt: Str(64),
});
export type CommandMessage = Static<typeof CommandMessage>;

export const CommandError = Type.Object({ code: Str(128), message: Str(4096) });
export type CommandError = Static<typeof CommandError>;

export const ResultStatus = Type.Union([Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('partial')]);

/** Body of `POST /api/agent/v1/commands/{id}/result`; the WebSocket `result` message adds type and id. */
export const CommandResultBody = Type.Object({
  status: ResultStatus,
  result: Type.Optional(Json),
  error: Type.Optional(CommandError),
});
export type CommandResultBody = Static<typeof CommandResultBody>;

export const LongPollReply = Type.Object({ commands: Type.Array(CommandMessage) });
export type LongPollReply = Static<typeof LongPollReply>;

/** One object's outcome in an `apply`, `delete` or `diff` result. */
export const ObjectResult = Type.Object({
  kind: Str(128),
  namespace: Type.Optional(Str(253)),
  name: Str(253),
  action: Type.Union([
    Type.Literal('created'),
    Type.Literal('configured'),
    Type.Literal('unchanged'),
    Type.Literal('pruned'),
    Type.Literal('deleted'),
    Type.Literal('drifted'),
    Type.Literal('missing'),
    Type.Literal('failed'),
  ]),
  message: Type.Optional(Str(4096)),
  /** `diff`: the changed field paths, e.g. "spec.replicas". */
  fields: Type.Optional(Type.Array(Str(1024), { maxItems: 256 })),
  /** `apply`: metadata.generation of the object after the apply, so rollout progress can wait for it. */
  generation: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type ObjectResult = Static<typeof ObjectResult>;
export const ObjectsResult = Type.Object({ objects: Type.Array(ObjectResult) });
export type ObjectsResult = Static<typeof ObjectsResult>;

/** `GET /api/agent/v1/commands`: how long to wait for a command when none is waiting (0 answers at once). */
export const LongPollQuery = Type.Object({
  waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 30, default: 0 })),
});
export type LongPollQuery = Static<typeof LongPollQuery>;

/**
 * Reply to a result POST: the command's final state. `recorded` is false when an earlier result
 * had already ended the command (a duplicate after a redelivery); the first result wins.
 */
export const CommandResultReply = Type.Object({
  id: Str(64),
  state: ResultStatus,
  recorded: Type.Boolean(),
});
export type CommandResultReply = Static<typeof CommandResultReply>;

// ---------------------------------------------------------------------------------------------
// Log streams: a `logs` command's result says the stream started (or why not); its lines follow as
// `log` messages and a last `log-end`. Over WebSocket they are frames; over long-poll each is the
// body of `POST /api/agent/v1/logs/{streamId}`.

/** agent → server: whole lines, `seq` counting from 0 per stream. */
export const LogMessage = Type.Object({
  type: Type.Literal('log'),
  streamId: Str(128),
  seq: Type.Integer({ minimum: 0 }),
  lines: Type.Array(Type.String({ maxLength: LOG_LIMITS.lineBytes + 64 }), { maxItems: LOG_LIMITS.chunkLines }),
});
export type LogMessage = Static<typeof LogMessage>;

/** agent → server: the stream is over (`eof`: the container's log ended; `stopped`: asked to). */
export const LogEndMessage = Type.Object({
  type: Type.Literal('log-end'),
  streamId: Str(128),
  reason: Type.Union([Type.Literal('eof'), Type.Literal('stopped'), Type.Literal('error')]),
  /** With `error`: what went wrong, e.g. the Kubernetes API's message. */
  message: Type.Optional(Str(4096)),
});
export type LogEndMessage = Static<typeof LogEndMessage>;

/**
 * server → agent: the reader has taken `seq` (and everything before it). `stop`: nobody reads
 * the stream any more; the agent ends it with `log-end` reason `stopped`. Over long-poll this is
 * the reply to the `log` POST.
 */
export const LogAckMessage = Type.Object({
  type: Type.Literal('log-ack'),
  streamId: Str(128),
  seq: Type.Integer({ minimum: -1 }),
  stop: Type.Optional(Type.Boolean()),
});
export type LogAckMessage = Static<typeof LogAckMessage>;
