import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrySkipReason, startRegistry, type Registry } from '../registry.js';
import { condition, eventually, field, getItems, type Item } from './test-support/kube-json.js';
import { describeWithKube } from './vitest.js';
import { type KubeCluster } from './harness.js';

const NS = 'image-pull';
const USER = 'puller';
const PASSWORD = 'pull-secret-password';

function deployment(
  name: string,
  image: string,
  options: { pullSecret?: string; progressDeadlineSeconds?: number } = {},
): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: ${NS} }
spec:
  replicas: 1
  ${options.progressDeadlineSeconds === undefined ? '' : `progressDeadlineSeconds: ${options.progressDeadlineSeconds}`}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      ${options.pullSecret === undefined ? '' : `imagePullSecrets: [{ name: ${options.pullSecret} }]`}
      containers: [{ name: app, image: "${image}" }]
`;
}

async function pods(cluster: KubeCluster, app: string): Promise<Item[]> {
  return getItems(cluster, ['pods', '-n', NS, '-l', `app=${app}`]);
}

function waitingReason(pod: Item): unknown {
  return field(pod, 'status', 'containerStatuses', 0, 'state', 'waiting', 'reason');
}

/** The one pod of the app, once its container waits in a pull error. */
async function podFailingToPull(cluster: KubeCluster, app: string): Promise<Item> {
  return eventually(`a pod of ${app} in ErrImagePull/ImagePullBackOff`, async () => {
    const [pod] = await pods(cluster, app);
    const reason = pod === undefined ? undefined : waitingReason(pod);
    return reason === 'ErrImagePull' || reason === 'ImagePullBackOff' ? pod : undefined;
  });
}

async function warningEvents(cluster: KubeCluster, pod: Item): Promise<Item[]> {
  const name = String(field(pod, 'metadata', 'name'));
  return getItems(cluster, [
    'events',
    '-n',
    NS,
    '--field-selector',
    `involvedObject.name=${name},type=Warning,reason=Failed`,
  ]);
}

const registryMissing = registrySkipReason();

if (registryMissing !== null) {
  describe.skip(`image pulls from a loopback registry [skipped: ${registryMissing}]`, () => {
    it('needs docker-registry', () => undefined);
  });
} else {
  describeWithKube('image pulls from a loopback registry', (cluster) => {
    let registry: Registry;

    beforeAll(async () => {
      registry = await startRegistry({ auth: { kind: 'htpasswd', users: { [USER]: PASSWORD } } });
      await registry.pushImage('app', '1');
      await cluster().kubectl(['create', 'namespace', NS]);
      await cluster().kubectl([
        ...['create', 'secret', 'docker-registry', 'regcred', '-n', NS],
        ...[`--docker-server=${registry.host}`, `--docker-username=${USER}`, `--docker-password=${PASSWORD}`],
      ]);
    });

    afterAll(async () => {
      await registry?.stop();
    });

    it('runs a Deployment whose private image its pull secret unlocks', async () => {
      await cluster().apply(deployment('good', `${registry.host}/app:1`, { pullSecret: 'regcred' }));
      const pod = await eventually('a Ready pod of good', async () => {
        const [p] = await pods(cluster(), 'good');
        return p !== undefined && condition(p, 'Ready') === 'True' ? p : undefined;
      });
      expect(field(pod, 'status', 'phase')).toBe('Running');
      expect(field(pod, 'metadata', 'annotations', 'niro.test/image-pull-error')).toBeUndefined();
    });

    it('keeps a pod without the pull secret waiting in an image pull error, with Warning events', async () => {
      await cluster().apply(deployment('no-secret', `${registry.host}/app:1`));
      const pod = await podFailingToPull(cluster(), 'no-secret');
      expect(field(pod, 'status', 'phase')).toBe('Pending');
      expect(condition(pod, 'Ready')).toBe('False');
      expect(field(pod, 'status', 'containerStatuses', 0, 'ready')).toBe(false);
      expect(String(field(pod, 'status', 'containerStatuses', 0, 'state', 'waiting', 'message'))).toMatch(
        /401 Unauthorized/,
      );
      const events = await eventually('a Warning Failed event with the pull error', async () => {
        const items = await warningEvents(cluster(), pod);
        return items.some((e) => String(field(e, 'message')).startsWith('Failed to pull image')) ? items : undefined;
      });
      const pull = events.find((e) => String(field(e, 'message')).startsWith('Failed to pull image'));
      expect(field(pull, 'message')).toContain(`Failed to pull image "${registry.host}/app:1": `);
      expect(field(pull, 'message')).toMatch(/unauthorized/i);
      expect(field(pull, 'source', 'component')).toBe('kubelet');
      // Like a kubelet, it backs off and retries: ImagePullBackOff follows ErrImagePull.
      await eventually('ImagePullBackOff', async () => {
        const [p] = await pods(cluster(), 'no-secret');
        return p !== undefined && waitingReason(p) === 'ImagePullBackOff' ? true : undefined;
      });
      const status = await cluster().kubectl(['get', 'pods', '-n', NS, '-l', 'app=no-secret', '--no-headers']);
      expect(status.stdout).toMatch(/0\/1\s+(ImagePullBackOff|ErrImagePull)/);
    });

    it('reports a tag the registry does not have as not found', async () => {
      await cluster().apply(
        deployment('missing-tag', `${registry.host}/app:does-not-exist`, { pullSecret: 'regcred' }),
      );
      const pod = await podFailingToPull(cluster(), 'missing-tag');
      const message = String(field(pod, 'status', 'containerStatuses', 0, 'state', 'waiting', 'message'));
      expect(message).toContain(`${registry.host}/app:does-not-exist: not found`);
      expect(condition(pod, 'Ready')).toBe('False');
    });

    it('stalls a rollout to a broken image: the old pod stays ready and the progress deadline passes', async () => {
      const good = deployment('rollout', `${registry.host}/app:1`, {
        pullSecret: 'regcred',
        progressDeadlineSeconds: 10,
      });
      await cluster().apply(good);
      await cluster().kubectl(['rollout', 'status', '-n', NS, 'deployment/rollout', '--timeout=60s']);
      const [oldPod] = await pods(cluster(), 'rollout');
      const oldName = field(oldPod, 'metadata', 'name');

      await cluster().apply(
        deployment('rollout', `${registry.host}/app:2-broken`, { pullSecret: 'regcred', progressDeadlineSeconds: 10 }),
      );
      const deployment2 = await eventually(
        'Progressing=False ProgressDeadlineExceeded',
        async () => {
          const [d] = await getItems(cluster(), ['deployments', '-n', NS, '--field-selector', 'metadata.name=rollout']);
          const conditions = field(d, 'status', 'conditions');
          const progressing = Array.isArray(conditions)
            ? conditions.find((c) => field(c, 'type') === 'Progressing')
            : undefined;
          return field(progressing, 'status') === 'False' ? { d, progressing } : undefined;
        },
        60_000,
      );
      expect(field(deployment2.progressing, 'reason')).toBe('ProgressDeadlineExceeded');
      expect(field(deployment2.d, 'status', 'availableReplicas')).toBe(1);

      const all = await pods(cluster(), 'rollout');
      expect(all).toHaveLength(2);
      const old = all.find((p) => field(p, 'metadata', 'name') === oldName);
      const fresh = all.find((p) => field(p, 'metadata', 'name') !== oldName);
      expect(condition(old, 'Ready')).toBe('True');
      expect(condition(fresh, 'Ready')).toBe('False');
      expect(['ErrImagePull', 'ImagePullBackOff']).toContain(fresh === undefined ? undefined : waitingReason(fresh));
    }, 90_000);

    it('pulls from a token-auth registry through the Bearer flow', async () => {
      const tokenRegistry = await startRegistry({ auth: { kind: 'token', users: { [USER]: PASSWORD } } });
      try {
        await tokenRegistry.pushImage('tok', '1');
        await cluster().kubectl([
          ...['create', 'secret', 'docker-registry', 'tokencred', '-n', NS],
          ...[`--docker-server=${tokenRegistry.host}`, `--docker-username=${USER}`, `--docker-password=${PASSWORD}`],
        ]);
        await cluster().apply(deployment('token-good', `${tokenRegistry.host}/tok:1`, { pullSecret: 'tokencred' }));
        await cluster().apply(deployment('token-anonymous', `${tokenRegistry.host}/tok:1`));
        await eventually('a Ready pod of token-good', async () => {
          const [p] = await pods(cluster(), 'token-good');
          return p !== undefined && condition(p, 'Ready') === 'True' ? true : undefined;
        });
        const anonymous = await podFailingToPull(cluster(), 'token-anonymous');
        expect(String(field(anonymous, 'status', 'containerStatuses', 0, 'state', 'waiting', 'message'))).toMatch(
          /401 Unauthorized/,
        );
        expect(tokenRegistry.tokenRequests.some((r) => r.authorization?.startsWith('Basic ') === true)).toBe(true);
      } finally {
        await tokenRegistry.stop();
      }
    });

    it('still runs public images without any registry access', async () => {
      await cluster().apply(deployment('public', 'docker.io/library/nginx:1.27'));
      const pod = await eventually('a Ready pod of public', async () => {
        const [p] = await pods(cluster(), 'public');
        return p !== undefined && condition(p, 'Ready') === 'True' ? p : undefined;
      });
      expect(field(pod, 'metadata', 'annotations', 'niro.test/image-pull-error')).toBeUndefined();
    });
  });
}
