import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { condition, eventually, field, getItems, isRecord, type Item } from './test-support/kube-json.js';
import { describeWithKube } from './vitest.js';

describeWithKube('local Kubernetes harness', (cluster) => {
  it('starts with every fake node Ready', async () => {
    const nodes = await getItems(cluster(), ['nodes', '-l', 'type=kwok']);
    expect(nodes).toHaveLength(3);
    for (const node of nodes) expect(condition(node, 'Ready')).toBe('True');
  });

  it("runs a Deployment's pods", async () => {
    await cluster().apply(`
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: nginx:1.27 }]
`);
    const pods = await eventually('2 Running web pods', async () => {
      const items = await getItems(cluster(), ['pods', '-n', 'default', '-l', 'app=web']);
      const running = items.filter((pod) => field(pod, 'status', 'phase') === 'Running');
      return running.length === 2 ? running : undefined;
    });
    for (const pod of pods) {
      expect(condition(pod, 'Ready')).toBe('True');
      expect(field(pod, 'spec', 'nodeName')).toMatch(/^kwok-node-\d$/);
    }
  });

  it('serves every pod the lines of podLogFile: kubectl logs reads them and -f follows appended ones', async () => {
    const pods = await getItems(cluster(), ['pods', '-n', 'default', '-l', 'app=web']);
    const name = String(field(pods[0], 'metadata', 'name'));
    await cluster().appendPodLog(['started web', 'GET / 200 — ünïcode ok']);
    const logs = await cluster().kubectl(['logs', '-n', 'default', name, '--tail=2']);
    expect(logs.stdout).toBe('started web\nGET / 200 — ünïcode ok\n');

    const follow = spawn(join(cluster().binDir, 'kubectl'), [
      ...['--kubeconfig', cluster().kubeconfig, 'logs', '-f', '-n', 'default', name, '--tail=0'],
    ]);
    let followed = '';
    follow.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString('utf8')));
    try {
      // The follow request may start after a first append: append until a line shows.
      await eventually('kubectl logs -f to show an appended line', async () => {
        await cluster().appendPodLog(['appended while following']);
        await new Promise((resolve) => setTimeout(resolve, 200));
        return followed.includes('appended while following\n') ? true : undefined;
      });
    } finally {
      follow.kill();
    }
  });

  it('gives a ServiceAccount a kubeconfig limited to its RBAC rights', async () => {
    await cluster().apply(`
apiVersion: v1
kind: ServiceAccount
metadata: { name: reader, namespace: default }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: pod-reader, namespace: default }
rules: [{ apiGroups: [''], resources: [pods], verbs: [get, list] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: reader-pod-reader, namespace: default }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader }
subjects: [{ kind: ServiceAccount, name: reader, namespace: default }]
`);
    const kubeconfig = await cluster().serviceAccountKubeconfig('default', 'reader');
    const asReader = (args: string[]) =>
      cluster().kubectl(['--kubeconfig', kubeconfig, ...args], { allowFailure: true });
    expect((await asReader(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])).stdout).toBe(
      'system:serviceaccount:default:reader',
    );
    expect((await asReader(['get', 'pods', '-n', 'default'])).code).toBe(0);
    const denied = await asReader(['get', 'secrets', '-n', 'default']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('forbidden');
  });

  it('crash-loops a labelled pod in place and stops when the label is not "true"', async () => {
    await cluster().apply(`
apiVersion: v1
kind: Pod
metadata:
  name: crashy
  namespace: default
  labels: { niro.test/crash-loop: "true" }
  annotations: { niro.test/crash-loop-run-for: 500ms, niro.test/crash-loop-back-off: 1500ms }
spec:
  containers: [{ name: app, image: busybox:1.36 }]
`);
    /** The container's status, or undefined until the pod has been started (kwok may not have got to it yet). */
    const getApp = async (): Promise<Item | undefined> => {
      const { stdout } = await cluster().kubectl(['get', 'pod', 'crashy', '-n', 'default', '-o', 'json']);
      const pod: unknown = JSON.parse(stdout);
      const status = field(pod, 'status', 'containerStatuses', 0);
      return isRecord(status) ? { ...status, podReady: condition(pod, 'Ready') } : undefined;
    };
    const crashed = await eventually('a CrashLoopBackOff container', async () => {
      const app = await getApp();
      return app !== undefined && field(app, 'state', 'waiting', 'reason') === 'CrashLoopBackOff' ? app : undefined;
    });
    expect(crashed).toMatchObject({
      ready: false,
      podReady: 'False',
      lastState: { terminated: { reason: 'Error', exitCode: 1 } },
    });
    expect(crashed.restartCount).toBeGreaterThanOrEqual(1);

    await eventually('restartCount to grow', async () => {
      const count = (await getApp())?.restartCount;
      return typeof count === 'number' && typeof crashed.restartCount === 'number' && count > crashed.restartCount
        ? true
        : undefined;
    });
    const events = await getItems(cluster(), [
      'events',
      '-n',
      'default',
      '--field-selector',
      'involvedObject.name=crashy,type=Warning',
    ]);
    expect(events.map((event) => field(event, 'reason'))).toContain('BackOff');

    await cluster().kubectl(['label', 'pod', 'crashy', '-n', 'default', '--overwrite', 'niro.test/crash-loop=false']);
    const recovered = await eventually('the container running again', async () => {
      const app = await getApp();
      return app !== undefined && field(app, 'state', 'running') !== undefined && app.podReady === 'True'
        ? app
        : undefined;
    });
    expect(recovered.ready).toBe(true);
  });
});
