import { hostname } from 'node:os';
import type { Command } from 'commander';
import { apiClient, normaliseUrl, type GlobalOptions } from '../api.js';
import { configFile, readLogin, removeLogin, writeLogin } from '../config-file.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';

type LoginOptions = GlobalOptions & { email?: string; passwordStdin?: boolean; name?: string };

export function registerLoginCommands(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description('Log in to a Niro server and store an API token for the other commands')
    .option('--email <email>', 'your account email (asked for when omitted)')
    .option('--password-stdin', 'read the password from stdin instead of asking')
    .option('--name <name>', 'a name for the API token, shown in the dashboard')
    .addHelpText('after', '\nExample:\n  niro login --url http://127.0.0.1:8080 --email admin@example.com')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<LoginOptions>();
      const rawUrl = opts.url ?? ctx.env.NIRO_URL ?? (await readLogin(ctx.configDir))?.url;
      if (rawUrl === undefined)
        throw new UsageError('which server? pass --url, e.g. niro login --url http://127.0.0.1:8080');
      const url = normaliseUrl(rawUrl);
      const out = ctx.out;

      let email = opts.email;
      if (email === undefined) {
        if (!out.interactive || opts.passwordStdin) throw new UsageError('--email is required when not at a terminal');
        email = (await out.prompt('Email: ')).trim();
      }
      let password: string;
      if (opts.passwordStdin) {
        password = (await out.readStdin()).replace(/\r?\n$/, '');
      } else if (out.interactive) {
        password = await out.prompt('Password: ', { hidden: true });
      } else {
        throw new UsageError('no terminal to ask for the password: pipe it in with --password-stdin');
      }
      if (email === '' || password === '') throw new UsageError('email and password must not be empty');

      const name = opts.name ?? `niro CLI on ${hostname()}`;
      const { token } = await apiClient(url).createToken(email, password, name);
      const file = await writeLogin(ctx.configDir, { url, token });
      if (opts.output === 'json') out.json({ url, email, tokenName: name, configFile: file });
      else out.info(`Logged in to ${url} as ${email}. The API token is stored in ${file}.`);
    });

  program
    .command('logout')
    .description('Forget the stored API token')
    .action(async () => {
      const removed = await removeLogin(ctx.configDir);
      ctx.out.info(
        removed
          ? `Removed the stored token (${configFile(ctx.configDir)}). It stays valid until revoked in the dashboard.`
          : 'Not logged in.',
      );
    });
}
