import { afterAll, beforeAll, describe, it } from 'vitest';
import { kubeHarnessAvailability, startKube, type KubeCluster } from './harness.js';

/** Starting takes about 5 s on two cores; the margin covers a loaded CI machine running two clusters. */
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;

/** describe() whose suite gets a started cluster (beforeAll/afterAll). When the binaries are missing the suite is
 *  reported as skipped with a title naming `npm run kube:build`; with NIRO_REQUIRE_KUBE=1 that is a failure instead. */
export function describeWithKube(
  name: string,
  fn: (cluster: () => KubeCluster) => void,
  options?: { nodes?: number },
): void {
  const availability = kubeHarnessAvailability();
  if (!availability.available) {
    if (process.env.NIRO_REQUIRE_KUBE === '1') {
      describe(name, () => {
        it('has the local Kubernetes harness', () => {
          throw new Error(`NIRO_REQUIRE_KUBE=1 but ${availability.reason}`);
        });
      });
      return;
    }
    describe.skip(`${name} [skipped: no local Kubernetes harness; run \`npm run kube:build\`]`, () => {
      fn(() => {
        throw new Error(`no local Kubernetes harness: ${availability.reason}`);
      });
    });
    return;
  }

  describe(name, () => {
    let starting: Promise<KubeCluster> | undefined;
    let cluster: KubeCluster | undefined;
    beforeAll(async () => {
      starting = startKube(options);
      cluster = await starting;
    }, START_TIMEOUT_MS);
    afterAll(async () => {
      // A start that outlived beforeAll's timeout still finishes here, so its processes get stopped too.
      const started = cluster ?? (await starting?.catch(() => undefined));
      await started?.stop();
    }, STOP_TIMEOUT_MS + START_TIMEOUT_MS);
    fn(() => {
      if (!cluster) throw new Error('the Kubernetes cluster did not start (see the beforeAll error)');
      return cluster;
    });
  });
}
