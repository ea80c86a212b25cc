import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiClient } from '@niro/protocol';
import { createLogger, startServer, type ConfigInput, type RunningServer } from '@niro/server';

export type CliTestServerOptions = {
  prefix: string;
  admin: { email: string; password: string };
  /** Left out where the test logs in itself (cli.test.ts), so the server holds no token it did not make. */
  tokenName?: string;
  config?: ConfigInput;
};

export type CliTestServer = {
  server: RunningServer;
  dataDir: string;
  /** Closes the server, then removes its data dir. */
  close(): Promise<void>;
};

export type CliTestServerWithToken = CliTestServer & { token: string; api: ApiClient };

/** Starts a real server on a free port with a fresh data dir and a first admin, for `niro` to talk to. */
export function startCliTestServer(
  options: CliTestServerOptions & { tokenName: string },
): Promise<CliTestServerWithToken>;
export function startCliTestServer(options: CliTestServerOptions): Promise<CliTestServer>;
export async function startCliTestServer(
  options: CliTestServerOptions,
): Promise<CliTestServer | CliTestServerWithToken> {
  const { admin, tokenName } = options;
  const dataDir = await mkdtemp(path.join(tmpdir(), options.prefix));
  let server: RunningServer | undefined;
  const close = async (): Promise<void> => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    server = await startServer({
      config: {
        NIRO_PORT: '0',
        NIRO_DATA_DIR: dataDir,
        NIRO_ADMIN_EMAIL: admin.email,
        NIRO_ADMIN_PASSWORD: admin.password,
        ...options.config,
      },
      logger: createLogger('warn'),
    });
    if (tokenName === undefined) return { server, dataDir, close };
    const { token } = await new ApiClient({ baseUrl: server.url }).createToken(admin.email, admin.password, tokenName);
    return { server, dataDir, close, token, api: new ApiClient({ baseUrl: server.url, token }) };
  } catch (error) {
    // The caller never gets `close` when this throws, so nothing else would clean up.
    await close();
    throw error;
  }
}
