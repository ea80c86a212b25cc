import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiClient } from '@niro/protocol';
import { describeBrowser, hydrated, launchBrowser, openPage, saveScreenshot } from './support/browser.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const adminEmail = 'admin@example.test';
const adminPassword = 'invite e2e admin passphrase';
const inviteeEmail = 'new.colleague@example.test';
const inviteePassword = 'colleague passphrase 7';

/** A port free right now, so the server's public URL (and so the invitation link) names the real port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

describeBrowser('accepting an invitation in Chromium (a real server process)', () => {
  let server: ServerProcess;
  let browser: Browser;
  let api: ApiClient;
  let bearerToken: string;
  let orgId: string;
  const contexts: BrowserContext[] = [];

  /** A browser that has never seen this server: no cookie, as the invitee's would be. */
  async function freshPage(): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
    const opened = await openPage(browser, { viewport: { width: 1400, height: 900 }, colorScheme: 'light' });
    contexts.push(opened.context);
    return opened;
  }

  async function createInvitation(email: string, role: string): Promise<{ url: string; token: string }> {
    const res = await fetch(`${server.url}/api/v1/orgs/${orgId}/invitations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email, role }),
    });
    expect(res.status).toBe(201);
    const body: unknown = await res.json();
    if (typeof body !== 'object' || body === null || !('url' in body) || !('token' in body)) {
      throw new Error(`unexpected reply: ${JSON.stringify(body)}`);
    }
    const { url, token } = body;
    if (typeof url !== 'string' || typeof token !== 'string') throw new Error('url and token must be strings');
    return { url, token };
  }

  beforeAll(async () => {
    server = await startServerProcess({
      port: await freePort(),
      env: { NIRO_ADMIN_EMAIL: adminEmail, NIRO_ADMIN_PASSWORD: adminPassword },
    });
    browser = await launchBrowser();
    const { token } = await new ApiClient({ baseUrl: server.url }).createToken(adminEmail, adminPassword, 'invite-e2e');
    bearerToken = token;
    api = new ApiClient({ baseUrl: server.url, token });
    const me = await api.me();
    const org = me.orgs[0];
    if (org === undefined) throw new Error('the admin has no org');
    orgId = org.id;
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await server?.stop();
  });

  it('opens the link in a fresh browser, sets a password and lands on the fleet signed in as the invitee', async ({
    annotate,
  }) => {
    const { url, token } = await createInvitation(inviteeEmail, 'member');
    expect(url).toBe(`${server.url}/invite/${token}`);

    const { page, context, errors } = await freshPage();
    await page.goto(url);
    await hydrated(page);
    await page.getByRole('heading', { name: 'Join Default as member' }).waitFor();
    expect(await page.getByTestId('invite-email').textContent()).toBe(inviteeEmail);
    expect(await page.title()).toBe('Join Default · Niro');

    await page.getByLabel('Choose a password').fill(inviteePassword);
    await page.getByLabel('Confirm password').fill(inviteePassword);
    const screenshot = await saveScreenshot(page, 'invite.png');
    await annotate(`[web] screenshot of the invitation page: ${screenshot}`);

    // A mistyped confirmation is caught before anything is sent.
    await page.getByLabel('Confirm password').fill(`${inviteePassword}x`);
    await page.getByRole('button', { name: 'Create account and join' }).click();
    await expect.poll(() => page.getByTestId('invite-error').textContent()).toBe('The two passwords do not match.');

    await page.getByLabel('Confirm password').fill(inviteePassword);
    await page.getByRole('button', { name: 'Create account and join' }).click();
    await page.waitForURL(`${server.url}/`);
    await hydrated(page);
    await expect.poll(() => page.getByTestId('signed-in-as').textContent()).toBe(inviteeEmail);
    const me = await context.request.get(`${server.url}/api/v1/me`);
    expect(me.status()).toBe(200);
    expect(await me.json()).toMatchObject({ email: inviteeEmail, orgs: [{ id: orgId, role: 'member' }] });
    expect(errors, 'the invitation page and the fleet').toEqual([]);

    // The same link in another fresh browser: already used.
    const second = await freshPage();
    await second.page.goto(url);
    await hydrated(second.page);
    const problem = second.page.getByTestId('invite-problem');
    await problem.waitFor();
    expect(await problem.textContent()).toContain('This invitation has already been used');
    // The only console line is Chromium reporting the 410 of the preview request itself.
    expect(second.errors.filter((e) => !/status of 410/.test(e))).toEqual([]);
  });

  it('asks an existing user for their own password, and says so when it is wrong', async () => {
    const { url } = await createInvitation(adminEmail.toUpperCase(), 'viewer');
    const { page } = await freshPage();
    await page.goto(url);
    await hydrated(page);
    await page.getByRole('heading', { name: 'Join Default as viewer' }).waitFor();
    await page.getByLabel('Your password').fill('not the admin password');
    await page.getByRole('button', { name: 'Accept and sign in' }).click();
    await expect.poll(() => page.getByTestId('invite-error').textContent()).toMatch(/password is not correct/);
    await page.getByLabel('Your password').fill(adminPassword);
    await page.getByRole('button', { name: 'Accept and sign in' }).click();
    await page.waitForURL(`${server.url}/`);
    // Already the owner: the viewer invitation changed nothing.
    const me = await api.me();
    expect(me.orgs.find((o) => o.id === orgId)?.role).toBe('owner');
  });

  it('explains an unknown link', async () => {
    const { page } = await freshPage();
    await page.goto(`${server.url}/invite/niro_inv_not-a-real-token`);
    await hydrated(page);
    const problem = page.getByTestId('invite-problem');
    await problem.waitFor();
    expect(await problem.textContent()).toContain('This invitation link is not valid');
  });
});
