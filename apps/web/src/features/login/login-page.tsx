import { useState, type FormEvent } from 'react';
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';

/**
 * Sign-in, or on a server without users the first-run form that creates the first administrator
 * (POST /api/v1/setup, only accepted from the server machine itself). Both set the session cookie.
 */
export function LoginPage({ next, needsSetup, expired }: { next: string; needsSetup: boolean; expired: boolean }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>): Promise<void> {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const body: Record<string, string> = {
      email: String(form.get('email') ?? ''),
      password: String(form.get('password') ?? ''),
    };
    const orgName = String(form.get('orgName') ?? '').trim();
    if (needsSetup && orgName !== '') body.orgName = orgName;
    setBusy(true);
    setError(null);
    try {
      const res = await fetch(needsSetup ? '/api/v1/setup' : '/api/v1/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.ok) {
        window.location.assign(next);
        return;
      }
      setError(await errorMessage(res));
    } catch (err) {
      setError(`The server could not be reached (${err instanceof Error ? err.message : String(err)})`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w={380} component="main">
        <form onSubmit={(e) => void submit(e)}>
          <Stack>
            <Title order={1} size="h3">
              {needsSetup ? 'Create the first admin' : 'Sign in to Niro'}
            </Title>
            {needsSetup && (
              <Text size="sm" c="dimmed">
                This server has no users yet. The account you create here owns the root organization.
              </Text>
            )}
            <noscript>
              <Text size="sm" c="red">
                Signing in needs JavaScript.
              </Text>
            </noscript>
            {expired && !needsSetup && error === null && (
              <Alert color="blue" role="status" data-testid="session-ended">
                Your session has ended. Sign in again to go back to the page you were on.
              </Alert>
            )}
            {error !== null && (
              <Alert color="red" role="alert" data-testid="login-error">
                {error}
              </Alert>
            )}
            <TextInput name="email" type="email" label="Email" autoComplete="username" required />
            <PasswordInput
              name="password"
              label="Password"
              autoComplete={needsSetup ? 'new-password' : 'current-password'}
              required
            />
            {needsSetup && <TextInput name="orgName" label="Organization name" placeholder="optional" />}
            <Button type="submit" loading={busy}>
              {needsSetup ? 'Create admin and sign in' : 'Sign in'}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}

async function errorMessage(res: Response): Promise<string> {
  try {
    const json: unknown = await res.json();
    if (typeof json === 'object' && json !== null && 'error' in json) {
      const err = json.error;
      if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') {
        return err.message;
      }
    }
  } catch {
    // Not JSON: fall through to the status line.
  }
  return `Sign-in failed (HTTP ${res.status})`;
}
