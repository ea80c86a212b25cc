import { spawn, spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// src/kube/ and dist/kube/ are both four levels below the repository root.
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BUILD_SCRIPT = join(REPO_ROOT, 'scripts', 'kube-build.sh');
const UP_SCRIPT = join(REPO_ROOT, 'scripts', 'kube-up.sh');
const DOWN_SCRIPT = join(REPO_ROOT, 'scripts', 'kube-down.sh');

/** kube-up's own per-wait timeout; the whole start stays below describeWithKube's beforeAll timeout. */
const KUBE_UP_WAIT_TIMEOUT_S = 60;
const OUTPUT_TAIL_LINES = 30;

export type KubeHarnessAvailability = { available: true; binDir: string } | { available: false; reason: string };

let cachedAvailability: KubeHarnessAvailability | undefined;

/** Sync; finds the built binaries of the pinned versions WITHOUT building (reason names `npm run kube:build`). */
export function kubeHarnessAvailability(): KubeHarnessAvailability {
  cachedAvailability ??= checkAvailability();
  return cachedAvailability;
}

function checkAvailability(): KubeHarnessAvailability {
  const result = spawnSync('bash', [BUILD_SCRIPT, '--check'], { encoding: 'utf8', timeout: 30_000 });
  if (result.error) {
    return {
      available: false,
      reason: `cannot run ${BUILD_SCRIPT} (${result.error.message}); run \`npm run kube:build\``,
    };
  }
  const lines = result.stdout.trim().split('\n');
  const binDir = lines[lines.length - 1] ?? '';
  if (result.status === 0 && binDir !== '') return { available: true, binDir };
  const why = result.stderr.trim() || result.stdout.trim() || `exit code ${String(result.status)}`;
  return {
    available: false,
    reason: why.includes('npm run kube:build') ? why : `${why}; run \`npm run kube:build\``,
  };
}

export type KubectlResult = { stdout: string; stderr: string; code: number };

export type KubectlOptions = { input?: string; allowFailure?: boolean; env?: Record<string, string> };

export type KubeCluster = {
  dir: string;
  kubeconfig: string;
  /** Folder holding kubectl (dir/bin), for PATH. */
  binDir: string;
  /**
   * The log of every container of every pod (kwok ClusterLogs, `kube/logs/`), in CRI log format
   * (`2016-10-06T00:00:00Z stdout F text`). Appended lines reach `kubectl logs -f` and follow streams.
   */
  podLogFile: string;
  /** Appends lines to `podLogFile` in CRI log format (each a full `stdout` line); no newlines inside. */
  appendPodLog(lines: readonly string[]): Promise<void>;
  /** Runs the harness kubectl with --kubeconfig; rejects with stderr in the message on non-zero exit unless allowFailure. */
  kubectl(args: string[], options?: KubectlOptions): Promise<KubectlResult>;
  apply(yaml: string): Promise<void>;
  /** `kubectl create token` for the ServiceAccount + a kubeconfig using that bearer token and the cluster CA; returns its path. */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  stop(): Promise<void>;
};

type ProcessResult = { stdout: string; stderr: string; code: number };

function run(
  command: string,
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        code: code ?? (signal ? 128 : 1),
      });
    });
    // A child that exits before reading its input makes the write fail with EPIPE; its exit code tells the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

function tail(text: string): string {
  return text.trimEnd().split('\n').slice(-OUTPUT_TAIL_LINES).join('\n');
}

/** Starts a fresh cluster in its own temp dir (NIRO_KUBE_DIR) via scripts/kube-up.sh; several may run at once. */
export async function startKube(options: { nodes?: number } = {}): Promise<KubeCluster> {
  const availability = kubeHarnessAvailability();
  if (!availability.available) throw new Error(`Kubernetes harness unavailable: ${availability.reason}`);
  const dir = await mkdtemp(join(tmpdir(), 'niro-kube-'));
  const env = {
    NIRO_KUBE_DIR: dir,
    NIRO_KUBE_BIN: availability.binDir,
    NIRO_KUBE_NODES: String(options.nodes ?? 3),
    NIRO_KUBE_TIMEOUT: String(KUBE_UP_WAIT_TIMEOUT_S),
    NIRO_KUBE_OWNER_PID: String(process.pid),
  };
  let up: ProcessResult;
  try {
    up = await run('bash', [UP_SCRIPT], { env });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const last = up.stdout.trimEnd().split('\n').pop() ?? '';
  if (up.code !== 0 || !last.startsWith('KUBECONFIG=')) {
    // kube-up stops what it started on failure; the dir may hold logs only.
    await run('bash', [DOWN_SCRIPT], { env: { NIRO_KUBE_DIR: dir } }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw new Error(`scripts/kube-up.sh failed (exit ${up.code}):\n${tail(up.stdout)}\n${tail(up.stderr)}`);
  }
  return createCluster(dir, last.slice('KUBECONFIG='.length));
}

function createCluster(dir: string, kubeconfig: string): KubeCluster {
  const binDir = join(dir, 'bin');
  const kubectlPath = join(binDir, 'kubectl');
  let stopping: Promise<void> | undefined;
  let saKubeconfigs = 0;

  const kubectl = async (args: string[], options: KubectlOptions = {}): Promise<KubectlResult> => {
    const result = await run(kubectlPath, ['--kubeconfig', kubeconfig, ...args], {
      ...(options.input === undefined ? {} : { input: options.input }),
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    if (result.code !== 0 && options.allowFailure !== true) {
      throw new Error(`kubectl ${args.join(' ')} exited with ${result.code}: ${result.stderr.trim()}`);
    }
    return result;
  };

  const serverUrl = async (): Promise<string> => {
    const result = await kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}']);
    const server = result.stdout.trim();
    if (!server.startsWith('https://')) throw new Error(`unexpected API server URL in ${kubeconfig}: ${server}`);
    return server;
  };

  const podLogFile = join(dir, 'pod-logs.log');

  return {
    dir,
    kubeconfig,
    binDir,
    podLogFile,
    async appendPodLog(lines) {
      const stamp = new Date().toISOString();
      await appendFile(podLogFile, lines.map((line) => `${stamp} stdout F ${line}\n`).join(''));
    },
    kubectl,
    async apply(yaml) {
      await kubectl(['apply', '-f', '-'], { input: yaml });
    },
    async serviceAccountKubeconfig(namespace, name) {
      const token = (await kubectl(['create', 'token', name, '-n', namespace, '--duration=1h'])).stdout.trim();
      const ca = await readFile(join(dir, 'pki', 'ca.crt'));
      const server = await serverUrl();
      saKubeconfigs += 1;
      const path = join(dir, `sa-${saKubeconfigs}-${namespace}-${name}.kubeconfig.yaml`);
      const user = `system:serviceaccount:${namespace}:${name}`;
      const config = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'niro-kube', cluster: { server, 'certificate-authority-data': ca.toString('base64') } }],
        users: [{ name: user, user: { token } }],
        contexts: [{ name: user, context: { cluster: 'niro-kube', user, namespace } }],
        'current-context': user,
      };
      // JSON is valid YAML, and kubeconfig loaders accept it.
      await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 });
      return path;
    },
    stop() {
      stopping ??= (async () => {
        const down = await run('bash', [DOWN_SCRIPT], { env: { NIRO_KUBE_DIR: dir } });
        if (down.code !== 0) {
          throw new Error(
            `scripts/kube-down.sh failed (exit ${down.code}):\n${tail(down.stdout)}\n${tail(down.stderr)}`,
          );
        }
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
