import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance, so tests can build many apps in one process. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'niro_http_request_duration_seconds',
    help: 'HTTP request duration by route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly heartbeats = new Counter({
    name: 'niro_heartbeats_total',
    help: 'Heartbeats accepted, by inventory mode',
    labelNames: ['mode'] as const,
    registers: [this.registry],
  });
  readonly heartbeatsRejected = new Counter({
    name: 'niro_heartbeats_rejected_total',
    help: 'Heartbeats refused, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly heartbeatBytes = new Counter({
    name: 'niro_heartbeat_received_bytes_total',
    help: 'Heartbeat bytes received on the wire (after any gzip)',
    registers: [this.registry],
  });
  readonly clustersByStatus = new Gauge({
    name: 'niro_clusters',
    help: 'Clusters by status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly commandResults = new Counter({
    name: 'niro_command_results_total',
    help: 'Command results from agents: recorded, or a repeat of a result already recorded (changes nothing)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly snapshotFlush = new Histogram({
    name: 'niro_snapshot_flush_seconds',
    help: 'Time to write one batch of cluster snapshots',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly policyEvaluations = new Counter({
    name: 'niro_policy_evaluations_total',
    help: 'Workloads, Services and PodDisruptionBudgets evaluated by runtime policy (only those whose object, namespace objects or environment changed)',
    registers: [this.registry],
  });
  readonly policyRuntimeDuration = new Histogram({
    name: 'niro_policy_runtime_seconds',
    help: 'Time to evaluate and store the findings of one cluster after a heartbeat changed its workloads',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly findingChanges = new Counter({
    name: 'niro_findings_changes_total',
    help: 'Runtime findings opened and closed',
    labelNames: ['change'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'niro_' });
  }
}
