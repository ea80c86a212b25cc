import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { createLogger, startServer, type RunningServer } from '@niro/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNiro, type NiroRun } from './test-support/run-niro.js';
import { startCliTestServer, type CliTestServer } from './test-support/test-server.js';

const ADMIN = { email: 'cli-admin@example.test', password: 'correct horse battery staple' };

describe('niro CLI against a real server', () => {
  let testServer: CliTestServer;
  let dataDir: string;
  let configDir: string;
  let server: RunningServer;

  const niro = (args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<NiroRun> =>
    runNiro(args, { configDir, cwd: dataDir, ...options });

  beforeAll(async () => {
    testServer = await startCliTestServer({ prefix: 'niro-cli-test-', admin: ADMIN });
    ({ dataDir, server } = testServer);
    configDir = path.join(dataDir, 'config', 'niro');
  });

  afterAll(async () => {
    await testServer?.close();
  });

  it('logs in, creates a cluster, and lists and shows it', async () => {
    const login = await niro(['login', '--url', server.url, '--email', ADMIN.email, '--password-stdin'], {
      stdin: `${ADMIN.password}\n`,
    });
    expect(login).toMatchObject({ code: 0, stdout: '' });
    expect(login.stderr).toContain(`Logged in to ${server.url} as ${ADMIN.email}`);
    expect(login.stderr).not.toContain(ADMIN.password);
    const file = path.join(configDir, 'config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored: unknown = JSON.parse(await readFile(file, 'utf8'));
    expect(stored).toEqual({ url: server.url, token: expect.stringMatching(/^niro_pat_/) });

    const created = await niro([
      'clusters',
      'create',
      'edge-lisbon-03',
      '--env',
      'production',
      '--label',
      'site=lisbon',
      '--label',
      'tier=edge',
    ]);
    expect(created.code).toBe(0);
    expect(created.stderr).toContain('Created cluster edge-lisbon-03');
    expect(created.stdout).toMatch(/curl .*install\.sh/);
    expect(created.stdout).toMatch(/niro_et_/);

    const listed = await niro(['clusters', 'ls', '-o', 'json']);
    expect(listed.code).toBe(0);
    const items: unknown = JSON.parse(listed.stdout);
    expect(items).toEqual([
      expect.objectContaining({
        name: 'edge-lisbon-03',
        environment: 'production',
        labels: { site: 'lisbon', tier: 'edge' },
        status: 'pending',
      }),
    ]);

    const table = await niro(['clusters', 'ls']);
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{3,}/)).toEqual(['NAME', 'ENV', 'STATUS', 'NODES', 'PODS', 'K8S', 'LAST SEEN']);
    expect(row?.split(/\s{3,}/)).toEqual(['edge-lisbon-03', 'production', 'pending', '0/0', '0/0', '-', 'never']);

    const filtered = await niro(['clusters', 'ls', '--label', 'site=porto', '-o', 'json']);
    expect(JSON.parse(filtered.stdout)).toEqual([]);

    const shown = await niro(['clusters', 'get', 'edge-lisbon-03']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Environment:\s+production$/m);
    expect(shown.stdout).toMatch(/^Labels:\s+site=lisbon,tier=edge$/m);
    const byId = await niro(['clusters', 'get', '-o', 'json', (items as { id: string }[])[0]!.id]);
    expect(JSON.parse(byId.stdout)).toMatchObject({ name: 'edge-lisbon-03' });
  });

  it('takes the server and token from NIRO_URL and NIRO_TOKEN', async () => {
    const stored = JSON.parse(await readFile(path.join(configDir, 'config.json'), 'utf8')) as { token: string };
    await rm(path.join(configDir, 'config.json'));
    try {
      const res = await niro(['clusters', 'ls', '-o', 'json'], {
        env: { NIRO_URL: server.url, NIRO_TOKEN: stored.token },
      });
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toHaveLength(1);
    } finally {
      await niro(['login', '--url', server.url, '--email', ADMIN.email, '--password-stdin'], {
        stdin: ADMIN.password,
      });
    }
  });

  it('explains API errors with their code and exit code 1', async () => {
    const dup = await niro(['clusters', 'create', 'edge-lisbon-03']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^niro: .+ \([a-z_]+\)\n$/);

    const missing = await niro(['clusters', 'get', 'no-such-cluster']);
    expect(missing).toMatchObject({ code: 1, stderr: 'niro: no cluster named "no-such-cluster"\n' });

    const wrong = await niro(['login', '--url', server.url, '--email', ADMIN.email, '--password-stdin'], {
      stdin: 'not the password',
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe('niro: The email or password is not correct (invalid_credentials)\n');
  });

  it('reports usage errors with exit code 2', async () => {
    const unknown = await niro(['clusters', 'frobnicate']);
    expect(unknown.code).toBe(2);
    const badEnv = await niro(['clusters', 'create', 'x', '--env', 'prod']);
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('prod');
    const badLabel = await niro(['clusters', 'create', 'x', '--label', 'novalue']);
    expect(badLabel).toMatchObject({ code: 2, stderr: 'niro: --label novalue: use key=value\n' });
    const badConfig = await niro(['server', '--port', 'abc']);
    expect(badConfig).toMatchObject({ code: 2, stderr: 'niro: NIRO_PORT: "abc" is not a TCP port (0-65535)\n' });
    const noPassword = await niro(['login', '--url', server.url, '--email', ADMIN.email]);
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toContain('--password-stdin');
  });

  it('says when the server cannot be reached', async () => {
    const closed = await startServer({
      config: { NIRO_PORT: '0', NIRO_DATA_DIR: path.join(dataDir, 'closed') },
      logger: createLogger('silent'),
    });
    const url = closed.url;
    await closed.close();
    const res = await niro(['clusters', 'ls', '--url', url, '--token', 'niro_pat_x']);
    expect(res).toMatchObject({ code: 1, stderr: `niro: cannot reach Niro at ${url}: is the server running?\n` });
  });

  it('logs out by forgetting the token', async () => {
    const out = await niro(['logout']);
    expect(out.code).toBe(0);
    const after = await niro(['clusters', 'ls']);
    expect(after.code).toBe(2);
    expect(after.stderr).toContain('niro login --url');
  });
});
