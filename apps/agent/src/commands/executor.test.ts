import type { CommandMessage } from '@niro/protocol';
import { COMMAND_LIMITS } from '@niro/protocol/commands';
import type { KubeCluster } from '@niro/testkit/kube';
import { describeWithKube } from '@niro/testkit/kube-vitest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { executeCommand, type CommandContext } from './executor.js';
import {
  actions,
  billionLaughs,
  captureLogs,
  command,
  kubeApi,
  shopManifests,
  testContext,
  type CountingApi,
} from './test-support/commands.js';

const AGENT_DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: niro-agent, namespace: niro-system}
spec:
  replicas: 1
  selector: {matchLabels: {app: niro-agent}}
  template:
    metadata: {labels: {app: niro-agent}}
    spec:
      containers:
        - {name: agent, image: "ghcr.io/niro/agent:0.1.0"}
`;

describeWithKube('the command executor against the local API server', (cluster: () => KubeCluster) => {
  let api: CountingApi;
  let context: CommandContext;
  beforeAll(() => {
    api = kubeApi(cluster().kubeconfig);
    context = testContext(api);
  });
  afterAll(() => api?.close());

  const kubectl = async (...args: string[]): Promise<string> => (await cluster().kubectl(args)).stdout.trim();

  it('answers a ping at once with the agent time', async () => {
    const result = await executeCommand(command('ping', {}), context);
    expect(result).toEqual({ status: 'succeeded', result: { agentTime: expect.any(String) } });
    expect(Number.isNaN(Date.parse(String(result.result?.agentTime)))).toBe(false);
  });

  it('refuses a kind whose capability is off, without touching the cluster', async () => {
    const off = { ...context, capabilities: { pods: true, logs: false, apply: false, selfUpdate: false } };
    const writes = api.writes;
    for (const cmd of [
      command('apply', { manifests: shopManifests({ namespace: 'refused' }) }),
      command('delete', { deploymentId: 'x' }),
      command('diff', { manifests: shopManifests({ namespace: 'refused' }) }),
      command('self-update', { image: 'ghcr.io/niro/agent:9' }),
      command('logs', { streamId: 's', namespace: 'default', pod: 'p' }),
    ]) {
      const result = await executeCommand(cmd, off);
      expect(result).toEqual({ status: 'failed', error: { code: 'capability_disabled', message: expect.any(String) } });
    }
    expect(api.writes).toBe(writes);
    expect((await executeCommand(command('ping', {}), off)).status).toBe('succeeded');
    expect(await kubectl('get', 'namespace', 'refused', '--ignore-not-found', '-o', 'name')).toBe('');
  });

  it('runs a command id once: a repeat, even while the first still runs, gets the first result', async () => {
    const cmd = command('apply', { manifests: shopManifests({ namespace: 'once' }), deploymentId: 'once' });
    const writes = api.writes;
    const [first, concurrent] = await Promise.all([executeCommand(cmd, context), executeCommand(cmd, context)]);
    const applyWrites = api.writes - writes;
    expect(applyWrites).toBe(4);
    expect(actions(first)).toEqual([
      'Namespace/once created',
      'ConfigMap/shop-settings created',
      'Deployment/shop created',
      'Service/shop created',
    ]);
    expect(concurrent).toEqual(first);

    // Redelivered after a reconnect: the stored result, not a second run (which would say unchanged).
    const redelivered = await executeCommand({ ...cmd }, context);
    expect(redelivered).toEqual(first);
    expect(api.writes - writes).toBe(4);

    const rerun = await executeCommand({ ...cmd, id: `${cmd.id}-new` }, context);
    expect(actions(rerun)).toContain('Deployment/shop unchanged');
  });

  it('refuses a malformed payload with invalid_payload naming the field', async () => {
    const writes = api.writes;
    const cases: [CommandMessage, string][] = [
      [command('apply', {}), 'invalid payload: manifests is required (YAML or JSON text)'],
      [command('apply', { manifests: 42 }), 'invalid payload: manifests must be a string'],
      [command('apply', { manifests: 'a: 1', prune: true }), 'invalid payload: prune needs a deploymentId'],
      [
        command('apply', { manifests: 'a: 1', namespace: 'Not_A_Namespace' }),
        'invalid payload: namespace must be a DNS label (lower-case letters, digits and "-", at most 63)',
      ],
      [command('delete', {}), 'invalid payload: delete needs a deploymentId or manifests'],
      [command('self-update', { image: '' }), 'invalid payload: image is required'],
    ];
    for (const [cmd, message] of cases) {
      expect(await executeCommand(cmd, context)).toEqual({
        status: 'failed',
        error: { code: 'invalid_payload', message },
      });
    }
    const unknown: CommandMessage = JSON.parse(JSON.stringify({ ...command('ping', {}), kind: 'reboot' }));
    expect(await executeCommand(unknown, context)).toEqual({
      status: 'failed',
      error: { code: 'unsupported_kind', message: 'this agent does not know command kind "reboot"' },
    });
    expect(api.writes).toBe(writes);
  });

  it('applies nothing from a set with a YAML bomb, an oversized input or a broken document', async () => {
    const good = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: innocent, namespace: default}\n';
    const writes = api.writes;

    const bomb = await executeCommand(command('apply', { manifests: [good, billionLaughs()].join('---\n') }), context);
    expect(bomb).toEqual({
      status: 'failed',
      result: {
        errors: [{ document: 2, line: 5, message: 'refused: its aliases would expand it exponentially (a YAML bomb)' }],
      },
      error: {
        code: 'invalid_manifest',
        message: 'document 2, line 5: refused: its aliases would expand it exponentially (a YAML bomb)',
      },
    });

    const huge = `${good}data: {blob: "${'x'.repeat(COMMAND_LIMITS.manifestBytes)}"}\n`;
    const oversized = await executeCommand(command('apply', { manifests: huge }), context);
    expect(oversized.error).toEqual({
      code: 'invalid_manifest',
      message: `the manifests are ${Buffer.byteLength(huge)} bytes; the limit is ${COMMAND_LIMITS.manifestBytes}`,
    });

    const broken = await executeCommand(
      command('apply', {
        manifests: [good, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [oops\n'].join('---\n'),
      }),
      context,
    );
    expect(broken.status).toBe('failed');
    expect(broken.error?.code).toBe('invalid_manifest');
    expect(broken.error?.message).toMatch(/^document 2, line \d+: /);

    expect(api.writes).toBe(writes);
    expect(await kubectl('get', 'configmap', 'innocent', '-n', 'default', '--ignore-not-found', '-o', 'name')).toBe('');
  });

  it("updates the image of the agent's own Deployment", async () => {
    await cluster().kubectl(['create', 'namespace', 'niro-system']);
    await cluster().apply(AGENT_DEPLOYMENT);
    const image = 'ghcr.io/niro/agent:0.2.0';
    const updated = await executeCommand(command('self-update', { image }), context);
    expect(updated).toEqual({
      status: 'succeeded',
      result: { image, previousImage: 'ghcr.io/niro/agent:0.1.0', changed: true },
    });
    expect(
      await kubectl(
        'get',
        'deployment',
        'niro-agent',
        '-n',
        'niro-system',
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image}',
      ),
    ).toBe(image);
    const same = await executeCommand(command('self-update', { image }), context);
    expect(same.result).toEqual({ image, previousImage: image, changed: false });
  });

  it('never logs manifests, and turns an unexpected error into a failed result', async () => {
    const { logger, lines } = captureLogs();
    const logged = { ...context, logger };
    const secret = `apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: default}
stringData: {password: hunter2-do-not-log}
`;
    expect((await executeCommand(command('apply', { manifests: secret }), logged)).status).toBe('succeeded');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toContain('hunter2');

    const closed = kubeApi(cluster().kubeconfig);
    closed.close();
    const result = await executeCommand(command('self-update', { image: 'x:1' }), { ...logged, api: closed });
    expect(result).toEqual({
      status: 'failed',
      error: { code: 'agent_error', message: expect.stringContaining('the Kubernetes client is closed') },
    });
  });

  it('hands logs to the plugged-in handler, and says so when there is none', async () => {
    const cmd = command('logs', { streamId: 's1', namespace: 'default', pod: 'p' });
    expect((await executeCommand(cmd, context)).error?.code).toBe('unsupported_kind');
    const streaming = {
      ...context,
      handlers: {
        logs: async (c: CommandMessage) => ({ status: 'succeeded' as const, result: { streamId: c.payload.streamId } }),
      },
    };
    const other = { ...cmd, id: `${cmd.id}-2` };
    expect(await executeCommand(other, streaming)).toEqual({ status: 'succeeded', result: { streamId: 's1' } });
  });
});
