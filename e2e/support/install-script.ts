import { spawn } from 'node:child_process';
import type { KubeCluster } from '@niro/testkit/kube';

/**
 * Runs Niro's installer as a user does (`curl …/install.sh | sh`), with the harness kubectl on
 * PATH and its admin kubeconfig; `env` adds NIRO_TOKEN, NIRO_ENABLE_* and the like.
 */
export function runInstallScript(
  kube: KubeCluster,
  niroUrl: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `curl -fsSL "${niroUrl}/install.sh" | sh`], {
      env: {
        PATH: `${kube.binDir}:${process.env.PATH ?? ''}`,
        HOME: process.env.HOME ?? '/tmp',
        KUBECONFIG: kube.kubeconfig,
        NIRO_URL: niroUrl,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

/** Reads until `check` stops throwing (its last failure becomes the error), or the time is up. */
export async function eventually<T>(
  what: string,
  read: () => Promise<T>,
  check: (value: T) => void,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    try {
      check(value);
      return value;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
