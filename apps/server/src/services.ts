import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/database.js';
import { Metrics } from './lib/metrics.js';
import type { Logger } from './logger.js';
import { AuditRepository } from './modules/audit/audit.repository.js';
import { AuditService } from './modules/audit/audit.service.js';
import { AuthService } from './modules/auth/auth.service.js';
import type { ScryptParams } from './modules/auth/password.js';
import { UsersRepository } from './modules/auth/users.repository.js';
import { LoginRateLimiter } from './modules/auth/login-rate-limiter.service.js';
import { RateLimitRepository } from './modules/auth/rate-limit.repository.js';
import { SessionsRepository } from './modules/auth/sessions.repository.js';
import { SessionsService } from './modules/auth/sessions.service.js';
import { ClustersRepository } from './modules/clusters/clusters.repository.js';
import { ClustersService } from './modules/clusters/clusters.service.js';
import { FleetRepository } from './modules/fleet/fleet.repository.js';
import { FleetService } from './modules/fleet/fleet.service.js';
import { HeartbeatRepository } from './modules/heartbeat/heartbeat.repository.js';
import { HeartbeatService } from './modules/heartbeat/heartbeat.service.js';
import { ClusterStatusJob } from './jobs/cluster-status.job.js';
import { CommandExpiryJob } from './jobs/command-expiry.job.js';
import { InProcessCommandNotifier, type CommandNotifier } from './modules/commands/command-notifier.js';
import { CommandsRepository } from './modules/commands/commands.repository.js';
import { CommandsService } from './modules/commands/commands.service.js';
import { InProcessMessageBus, type MessageBus } from './modules/commands/message-bus.js';
import { KeyRevocations } from './modules/gateway/key-revocations.js';
import { LogsService } from './modules/logs/logs.service.js';
import { OrgsRepository } from './modules/orgs/orgs.repository.js';
import { OrgsService } from './modules/orgs/orgs.service.js';
import { InvitationsRepository } from './modules/invitations/invitations.repository.js';
import { InvitationsService } from './modules/invitations/invitations.service.js';
import { FindingsRepository } from './modules/policy/findings.repository.js';
import { FindingsService } from './modules/policy/findings.service.js';
import { PolicyEvaluator } from './modules/policy/policy-evaluator.js';
import { PolicyService } from './modules/policy/policy.service.js';
import { SuppressionsRepository } from './modules/policy/suppressions.repository.js';
import { SuppressionsService } from './modules/policy/suppressions.service.js';
import { SecretBox } from './lib/secret-box.js';
import { NotificationsRepository } from './modules/notifications/notifications.repository.js';
import { NotificationsService } from './modules/notifications/notifications.service.js';
import { OutboxDispatcher, type DispatcherOptions } from './modules/notifications/outbox-dispatcher.job.js';
import { Senders } from './modules/notifications/senders/senders.js';
import { IncidentsService } from './modules/incidents/incidents.service.js';
import { fetchEvidenceLogs } from './modules/incidents/evidence-logs.js';
import { UsageRepository } from './modules/usage/usage.repository.js';
import { UsageService } from './modules/usage/usage.service.js';
import { UsageRollupJob } from './modules/usage/usage-rollup.job.js';
import { DeploymentsRepository } from './modules/deployments/deployments.repository.js';
import { DeploymentsService, type DeploymentsDeps } from './modules/deployments/deployments.service.js';
import { DriftJob } from './modules/deployments/drift.job.js';
import { InventoryReader } from './modules/deployments/inventory-reader.js';
import { RolloutWatch } from './modules/deployments/rollout-watch.js';
import { fetchGitSource, resolveGitRef } from './modules/git-source/git-source.js';
import { RegistriesRepository } from './modules/registries/registries.repository.js';
import { RegistriesService } from './modules/registries/registries.service.js';

export type ServiceOptions = {
  /** Cheaper password hashing for tests; production always uses OWASP parameters. */
  scrypt?: ScryptParams;
  /** Collect process metrics (off in tests that build many apps). */
  processMetrics?: boolean;
  /** Wake-ups for waiting agent connections; in-process unless given (main.ts passes PostgreSQL's). */
  commandNotifier?: CommandNotifier;
  /** Messages between replicas (log streams); in-process unless given (main.ts passes PostgreSQL's). */
  messageBus?: MessageBus;
  /** Notifications: tests point PagerDuty at a local receiver and tune retries; API users cannot. */
  notifications?: { pagerDutyEventsUrl?: string; dispatcher?: Partial<DispatcherOptions>; secretBox?: SecretBox };
  /** Deployments: tests give Git fetching a test CA, for instance. */
  deployments?: Pick<DeploymentsDeps, 'git' | 'gitHead'>;
};

/** Everything the app needs, built once in one place (main.ts, or a test). */
export type Services = {
  config: Config;
  clock: Clock;
  logger: Logger;
  database: DatabaseHandle;
  metrics: Metrics;
  orgs: OrgsService;
  auth: AuthService;
  /** Invitations to orgs: created by admins, accepted through a single-use link. */
  invitations: InvitationsService;
  audit: AuditService;
  clusters: ClustersService;
  heartbeat: HeartbeatService;
  fleet: FleetService;
  statusJob: ClusterStatusJob;
  commands: CommandsService;
  commandExpiryJob: CommandExpiryJob;
  /** Re-enrollment and deletion announce here; open agent connections of the old key close. */
  keyRevocations: KeyRevocations;
  /** Pod log streams: readers over SSE, agents' lines over WebSocket or long-poll. */
  logs: LogsService;
  /** The rule catalogue and build-time evaluation of manifests. */
  policy: PolicyService;
  /** Runtime findings: evaluated when heartbeats change workloads, listed by the API. */
  findings: FindingsService;
  /** Suppressions of runtime findings, applied when findings are listed. */
  suppressions: SuppressionsService;
  /** Notification channels and the way into the outbox (enqueue). */
  notifications: NotificationsService;
  /** Sends what the outbox holds; started by main.ts on every replica (rows are leased). */
  notificationDispatcher: OutboxDispatcher;
  /** Incident detection (on heartbeats and diff results), lifecycle and the incidents API. */
  incidents: IncidentsService;
  /** Usage history of clusters and pods for the dashboard's charts (recorded on heartbeats). */
  usage: UsageService;
  /** Folds usage samples into 5-minute buckets and prunes; main.ts runs it on one replica. */
  usageRollupJob: UsageRollupJob;
  /** Managed deployments: revisions, apply, rollout, rollback, drift, delete. */
  deployments: DeploymentsService;
  /** Queues the periodic drift checks; main.ts runs it on one replica. */
  driftJob: DriftJob;
  /** Registry pull credentials: verified before saving, sealed at rest, pull Secrets for deployments. */
  registries: RegistriesService;
};

export function createServices(deps: {
  config: Config;
  clock: Clock;
  logger: Logger;
  database: DatabaseHandle;
  options?: ServiceOptions;
}): Services {
  const { config, clock, logger, database } = deps;
  const db = database.db;
  const metrics = new Metrics({ processMetrics: deps.options?.processMetrics ?? true });
  const audit = new AuditService(new AuditRepository(db), clock);
  const orgs = new OrgsService(new OrgsRepository(db, database.dialect), audit, clock);
  const users = new UsersRepository(db, database.dialect);
  const sessions = new SessionsService(new SessionsRepository(db), clock);
  const auth = new AuthService({
    users,
    orgs,
    sessions,
    limiter: new LoginRateLimiter(new RateLimitRepository(db), clock),
    audit,
    clock,
    scrypt: deps.options?.scrypt,
  });
  // Passwords are checked through auth, so a wrong one at acceptance counts like one at sign-in.
  const invitations = new InvitationsService({
    repo: new InvitationsRepository(db, database.dialect),
    users,
    auth,
    orgs,
    sessions,
    audit,
    clock,
    config,
  });
  const notifier = deps.options?.commandNotifier ?? new InProcessCommandNotifier();
  const keyRevocations = new KeyRevocations(notifier);
  const findings = new FindingsService(new FindingsRepository(db), clock, logger, metrics);
  const clustersRepo = new ClustersRepository(db);
  const clusters = new ClustersService(
    clustersRepo,
    clock,
    config,
    audit,
    (clusterId) => keyRevocations.revoked(clusterId),
    (clusterId) => findings.environmentChanged(clusterId),
  );
  const heartbeat = new HeartbeatService(new HeartbeatRepository(db), clock, config, logger, metrics);
  heartbeat.listenForWorkloads(findings);
  findings.readFrom({
    held: (clusterId) => heartbeat.heldWorkloads(clusterId),
    heldObjects: (clusterId) => heartbeat.heldObjects(clusterId),
  });
  const fleet = new FleetService(new FleetRepository(db), clock);
  const statusJob = new ClusterStatusJob(db, clock, config, logger, metrics);
  // One key ring for every sealed value (ADR 0008); the key file is only created on first use.
  const secretBox = deps.options?.notifications?.secretBox ?? SecretBox.fromConfig(config);
  const commands = new CommandsService({
    repo: new CommandsRepository(db, clock),
    clock,
    logger,
    clusters,
    agents: heartbeat,
    notifier,
    metrics,
    box: secretBox,
  });
  const commandExpiryJob = new CommandExpiryJob(commands, logger);
  const logs = new LogsService({ commands, bus: deps.options?.messageBus ?? new InProcessMessageBus(), logger });
  const notificationOptions = deps.options?.notifications;
  const notificationsRepo = new NotificationsRepository(db, clock);
  const notifications = new NotificationsService({
    repo: notificationsRepo,
    box: secretBox,
    senders: new Senders({
      publicUrl: config.publicUrl,
      smtp: config.smtp,
      pagerDutyEventsUrl: notificationOptions?.pagerDutyEventsUrl,
    }),
    clock,
    logger,
    config,
  });
  const notificationDispatcher = new OutboxDispatcher(
    { repo: notificationsRepo, notifications, clock, logger },
    notificationOptions?.dispatcher,
  );
  const incidents = new IncidentsService({ db, clock, config, logger, audit, notifications });
  heartbeat.listenForHeartbeats(incidents);
  const usage = new UsageService({ repo: new UsageRepository(db), clusters, clock, config, logger });
  heartbeat.listenForHeartbeats(usage);
  incidents.fetchLogsWith((request) => fetchEvidenceLogs(logs, request));
  statusJob.afterPass(() => incidents.notifyMissed());
  const policy = new PolicyService(logger, new PolicyEvaluator(logger));
  const registries = new RegistriesService({
    repo: new RegistriesRepository(db, clock),
    box: secretBox,
    clock,
    logger,
  });
  const inventoryReader = new InventoryReader(heartbeat, clustersRepo);
  const deploymentsRepo = new DeploymentsRepository(db);
  const deployments = new DeploymentsService({
    repo: deploymentsRepo,
    clusters,
    commands,
    policy,
    incidents,
    audit,
    inventory: inventoryReader,
    box: secretBox,
    clock,
    logger,
    registries,
    git: (source) => fetchGitSource(source),
    gitHead: (source) => resolveGitRef(source),
    orgs,
    ...deps.options?.deployments,
  });
  const rolloutWatch = new RolloutWatch({
    repo: deploymentsRepo,
    inventory: inventoryReader,
    incidents,
    clock,
    logger,
  });
  deployments.watchRolloutsWith(rolloutWatch);
  heartbeat.listenForHeartbeats(rolloutWatch);
  commands.onResult(async (clusterId, command) => {
    // Results of commands a deployment queued update it (and its incidents); others go to incidents.
    if (await deployments.handleCommandResult(clusterId, command)) return;
    if (command.kind === 'diff') {
      await incidents.diffResult(clusterId, command.payload, command.status, command.result);
    } else if (command.kind === 'apply') {
      await incidents.applyResult(clusterId, command.payload, command.status, command.result);
    }
  });
  return {
    config,
    clock,
    logger,
    database,
    metrics,
    orgs,
    auth,
    invitations,
    audit,
    clusters,
    heartbeat,
    fleet,
    statusJob,
    commands,
    commandExpiryJob,
    keyRevocations,
    logs,
    policy,
    findings,
    suppressions: new SuppressionsService(new SuppressionsRepository(db, clock), clusters, clock, logger),
    notifications,
    notificationDispatcher,
    incidents,
    usage,
    usageRollupJob: new UsageRollupJob(usage),
    deployments,
    driftJob: new DriftJob(deployments, logger),
    registries,
  };
}
