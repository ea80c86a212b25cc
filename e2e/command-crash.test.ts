import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiClient, type Command, type CommandState } from '@niro/protocol';
import { startCommandAgents, type CommandAgentFleet } from '@niro/testkit';
import { createEmptyPostgresDatabase, type Dialect } from '../apps/server/src/test-support/databases.js';
import {
  enrollClustersOverApi,
  startServerProcess,
  type EnrolledCluster,
  type ServerProcess,
} from './support/server-process.js';

const CLUSTERS = 50;
const COMMANDS = 500;
const EXECUTION_DELAY_MS = 100;
const email = 'operator@example.test';
const password = 'crash test passphrase 42';
const pgInfo = inject('postgres');

/**
 * CMD-1 (RELIABILITY-TESTS.md): a real `niro server` process is SIGKILLed while 500 commands to
 * 50 simulated agents are queued, in flight in the agents, or answered; it starts again on the
 * same port and data. Every command must still reach `succeeded`, none may run twice on its
 * agent, and the test prints the duplicate deliveries and the seconds to drain after restart.
 */
function crashSuite(dialect: Dialect): void {
  const skip = dialect === 'postgres' && pgInfo.url === null;
  const suffix = skip ? ` (skipped: ${pgInfo.reason})` : '';
  describe.skipIf(skip)(`CMD-1 server crash during 500 commands (${dialect})${suffix}`, () => {
    let server: ServerProcess | null = null;
    let disposeDb: () => Promise<void> = async () => undefined;
    const fleets: CommandAgentFleet[] = [];

    beforeAll(async () => {
      const env: Record<string, string> = { NIRO_ADMIN_EMAIL: email, NIRO_ADMIN_PASSWORD: password };
      if (dialect === 'postgres') {
        const db = await createEmptyPostgresDatabase();
        env.NIRO_DATABASE_URL = db.url;
        disposeDb = db.dispose;
      }
      server = await startServerProcess({ env, logLevel: 'warn' });
    });

    afterAll(async () => {
      for (const fleet of fleets) await fleet.stop();
      await server?.stop();
      await disposeDb();
    });

    it(
      'loses no command and runs none twice when the server is SIGKILLed mid-way',
      { timeout: 180_000 },
      async ({ annotate }) => {
        if (server === null) throw new Error('the server did not start');
        const proc = server;
        const { token } = await new ApiClient({ baseUrl: proc.url }).createToken(email, password, 'cmd-1');
        const api = new ApiClient({ baseUrl: proc.url, token });
        const clusters = await enrollClustersOverApi(proc.url, token, CLUSTERS, { namePrefix: `crash-${dialect}` });

        // All 500 queued first (ping needs no capability), 10 per cluster, each with an idempotency key.
        const ids = new Array<string>(COMMANDS);
        await pool(COMMANDS, 10, async (i) => {
          const cluster = clusters[i % CLUSTERS];
          if (cluster === undefined) throw new Error('no cluster');
          const command = await api.createCommand(cluster.clusterId, { kind: 'ping', idempotencyKey: `cmd-1-${i}` });
          ids[i] = command.id;
        });

        // Half the agents connect and start working; the other half's commands stay queued in the database.
        const [early, late] = [clusters.slice(0, CLUSTERS / 2), clusters.slice(CLUSTERS / 2)];
        const start = (group: EnrolledCluster[]): Promise<CommandAgentFleet> =>
          startCommandAgents({
            url: proc.url,
            agentKeys: group.map((c) => c.agentKey),
            executionDelayMs: EXECUTION_DELAY_MS,
          }).then((fleet) => {
            fleets.push(fleet);
            return fleet;
          });
        const first = await start(early);
        const effects = (id: string): number => fleets.reduce((n, f) => n + f.effects(id), 0);
        const totalEffects = (): number => ids.reduce((n, id) => n + effects(id), 0);

        // A random point while the connected agents are busy: some answered, some running, the rest queued.
        const killAt = 40 + Math.floor(Math.random() * 120);
        await waitFor(() => totalEffects() >= killAt, 60_000, 'the agents to get going');
        await proc.kill('SIGKILL');
        const atKill = {
          effects: totalEffects(),
          receivedByAgents: first.commandIds().length,
          unconfirmedResults: first.agents.reduce((n, a) => n + a.ledger.unconfirmed().length, 0),
        };

        await proc.restart();
        const restartedAt = performance.now();
        await start(late);

        const states = await waitForFinal(api, clusters, 150_000);
        const drainSeconds = (performance.now() - restartedAt) / 1000;

        const byState = countBy(states.values());
        const deliveries = ids.map((id) => fleets.reduce((n, f) => n + f.deliveries(id), 0));
        const resultSends = ids.map((id) => fleets.reduce((n, f) => n + f.resultSends(id), 0));
        const duplicateDeliveries = deliveries.reduce((n, d) => n + Math.max(0, d - 1), 0);
        const repeatedResults = resultSends.reduce((n, s) => n + Math.max(0, s - 1), 0);
        const figure =
          `CMD-1 (${dialect}): SIGKILL after ${atKill.effects} of ${COMMANDS} executions ` +
          `(${atKill.receivedByAgents} commands held by agents, ${atKill.unconfirmedResults} results unconfirmed); ` +
          `final states ${JSON.stringify(byState)}; duplicate deliveries ${duplicateDeliveries}; ` +
          `results sent again ${repeatedResults}; drained ${drainSeconds.toFixed(1)} s after the restart ` +
          `(server ready → every command final)`;
        // eslint-disable-next-line no-console -- the figure this reliability test exists to print
        console.log(figure);
        await annotate(figure);

        // None lost, none expired: every one of the 500 succeeded.
        expect(states.size).toBe(COMMANDS);
        expect(byState).toEqual({ succeeded: COMMANDS });
        expect(ids.every((id) => states.get(id) === 'succeeded')).toBe(true);
        // Each ran exactly once on its agent, however often it was delivered.
        const effectCounts = countBy(ids.map((id) => String(effects(id))));
        expect(effectCounts).toEqual({ '1': COMMANDS });
        expect(deliveries.every((d) => d >= 1)).toBe(true);
      },
    );
  });
}

crashSuite('sqlite');
crashSuite('postgres');

/** Every command of the clusters, by id, once none is open any more. */
async function waitForFinal(
  api: ApiClient,
  clusters: EnrolledCluster[],
  timeoutMs: number,
): Promise<Map<string, CommandState>> {
  const open = new Set<CommandState>(['queued', 'delivered']);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = new Map<string, CommandState>();
    await pool(clusters.length, 8, async (i) => {
      const cluster = clusters[i];
      if (cluster === undefined) return;
      const page = await api.listCommands(cluster.clusterId, { limit: 100 });
      for (const c of page.items satisfies Command[]) states.set(c.id, c.state);
    });
    if (states.size >= COMMANDS && [...states.values()].every((s) => !open.has(s))) return states;
    if (Date.now() > deadline) {
      throw new Error(`commands still open after ${timeoutMs} ms: ${JSON.stringify(countBy(states.values()))}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function pool(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) await fn(i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

function countBy(values: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
