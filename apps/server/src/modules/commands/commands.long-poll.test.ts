import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, type Command, type LongPollReply } from '@niro/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test-support/app.js';
import { enrollTestCluster, reenrollTestCluster, type EnrolledTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';

type Inject = Awaited<ReturnType<TestApp['app']['inject']>>;

/** The long-poll half of the command channel: waiting, waking, and handing each command out once. */
describeEachDatabase('command long-poll', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(async () => {
    await t.dispose();
  });

  const createPing = async (c: EnrolledTestCluster): Promise<Command> => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clusters/${c.clusterId}/commands`,
      headers: bearer(c.owner.token),
      payload: { kind: 'ping' },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<Command>();
  };
  const poll = (c: EnrolledTestCluster, waitSeconds: number): Promise<Inject> =>
    t.app.inject({
      method: 'GET',
      url: `/api/agent/v1/commands?waitSeconds=${waitSeconds}`,
      headers: bearer(c.agentKey),
    });
  const idsOf = (res: Inject): string[] => res.json<LongPollReply>().commands.map((m) => m.id);
  const waiting = (c: EnrolledTestCluster): number => t.services.commands.waitingPolls(c.clusterId);

  it('answers at once with waitSeconds=0, and a waiting poll wakes when a command is created', async () => {
    const c = await enrollTestCluster(t);
    const now = await poll(c, 0);
    expect(now.statusCode).toBe(200);
    expect(now.headers['cache-control']).toBe('no-store');
    expect(now.json()).toEqual({ commands: [] });

    const pending = poll(c, 30);
    await expect.poll(() => waiting(c)).toBe(1);
    // Another cluster's command does not end the wait.
    await createPing(await enrollTestCluster(t));
    const cmd = await createPing(c);
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(idsOf(res)).toEqual([cmd.id]);
    expect(waiting(c)).toBe(0);
  });

  it('gives nothing to a waiting poll whose key was replaced meanwhile', async () => {
    const c = await enrollTestCluster(t);
    const pending = poll(c, 30);
    await expect.poll(() => waiting(c)).toBe(1);
    const newKey = await reenrollTestCluster(t, c);
    const cmd = await createPing(c);
    const res = await pending;
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: { code: 'invalid_agent_key' } });
    expect(idsOf(await poll({ ...c, agentKey: newKey }, 0))).toEqual([cmd.id]);
  });

  it('answers an empty list after the wait, and two waiting polls never get the same command', async () => {
    const c = await enrollTestCluster(t);
    const first = poll(c, 1);
    const second = poll(c, 1);
    await expect.poll(() => waiting(c)).toBe(2);
    const cmd = await createPing(c);
    const replies = await Promise.all([first, second]);
    expect(replies.map((r) => r.statusCode)).toEqual([200, 200]);
    expect(replies.flatMap(idsOf)).toEqual([cmd.id]);
    expect(waiting(c)).toBe(0);
  });

  it('hands each command out once to concurrent polls and claims', async () => {
    const c = await enrollTestCluster(t);
    const created: string[] = [];
    for (let i = 0; i < 30; i++) created.push((await createPing(c)).id);
    const polls = await Promise.all(Array.from({ length: 4 }, () => poll(c, 0)));
    const claims = await Promise.all(Array.from({ length: 4 }, () => t.services.commands.claim(c.clusterId)));
    const handedOut = [...polls.flatMap(idsOf), ...claims.flatMap((list) => list.map((m) => m.id))];
    expect(new Set(handedOut).size).toBe(handedOut.length);
    // Whatever the race left is handed out next, so every command went out exactly once.
    const rest = (await t.services.commands.claim(c.clusterId)).map((m) => m.id);
    expect([...handedOut, ...rest].sort()).toEqual([...created].sort());
    const rows = await t.services.database.db
      .selectFrom('commands')
      .select('deliveries')
      .where('cluster_id', '=', c.clusterId)
      .execute();
    expect(rows.every((r) => r.deliveries === 1)).toBe(true);
  });

  it('ends the wait when the client closes the connection, without claiming anything', async () => {
    const c = await enrollTestCluster(t);
    const { port } = await listen();
    const request = http.get({
      host: '127.0.0.1',
      port,
      path: '/api/agent/v1/commands?waitSeconds=30',
      headers: bearer(c.agentKey),
      agent: false,
    });
    const failed = new Promise<unknown>((resolve) => request.once('error', resolve));
    await expect.poll(() => waiting(c)).toBe(1);
    request.destroy();
    await failed;
    await expect.poll(() => waiting(c)).toBe(0);

    const cmd = await createPing(c);
    const res = await poll(c, 0);
    expect(idsOf(res)).toEqual([cmd.id]);
    const row = await t.services.database.db
      .selectFrom('commands')
      .select('deliveries')
      .where('id', '=', cmd.id)
      .executeTakeFirstOrThrow();
    expect(row.deliveries).toBe(1);
  });

  let address: AddressInfo | null = null;
  async function listen(): Promise<AddressInfo> {
    if (address === null) {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      address = t.app.server.address() as AddressInfo;
    }
    return address;
  }

  it('is reachable through the API client', async () => {
    const c = await enrollTestCluster(t);
    const { port } = await listen();
    const api = new ApiClient({ baseUrl: `http://127.0.0.1:${port}`, token: c.owner.token });
    const cmd = await api.createCommand(c.clusterId, { kind: 'ping', idempotencyKey: 'client-1' });
    expect(cmd).toMatchObject({ kind: 'ping', state: 'queued' });
    expect((await api.createCommand(c.clusterId, { kind: 'ping', idempotencyKey: 'client-1' })).id).toBe(cmd.id);
    expect((await api.getCommand(cmd.id)).id).toBe(cmd.id);
    expect((await api.listCommands(c.clusterId, { state: 'queued', limit: 5 })).items.map((i) => i.id)).toEqual([
      cmd.id,
    ]);
    expect((await api.cancelCommand(cmd.id)).state).toBe('cancelled');
    await expect(api.cancelCommand(cmd.id)).rejects.toMatchObject({ status: 409, code: 'command_already_final' });
  });

  it('answers waiting polls at once when the server closes', async () => {
    const own = await createTestApp(dialect);
    try {
      const c = await enrollTestCluster(own);
      const pending = own.app.inject({
        method: 'GET',
        url: '/api/agent/v1/commands?waitSeconds=30',
        headers: bearer(c.agentKey),
      });
      await expect.poll(() => own.services.commands.waitingPolls(c.clusterId)).toBe(1);
      const closed = own.app.close();
      const res = await pending;
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ commands: [] });
      await closed;
    } finally {
      await own.dispose();
    }
  });
});
