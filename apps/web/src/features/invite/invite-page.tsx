import { useEffect, useState, type FormEvent } from 'react';
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Center,
  Group,
  Loader,
  Paper,
  PasswordInput,
  Stack,
  Text,
  Title,
} from '@mantine/core';

/**
 * The server's rule for a new password (PASSWORD_MIN_LENGTH in @niro/protocol), repeated so this
 * public page loads no schema library; the server checks it again.
 */
const PASSWORD_MIN_LENGTH = 8;

/** GET /api/v1/invitations/{token} (InvitationPreview in @niro/protocol). */
type Preview = { orgName: string; email: string; role: string; expiresAt: string; existingUser: boolean };

type Load =
  { state: 'loading' } | { state: 'ready'; preview: Preview } | { state: 'failed'; code: string; message: string };

type Reply = { ok: true; json: unknown } | { ok: false; status: number; code: string; message: string };

/** Codes that mean the link itself no longer works: the form gives way to an explanation. */
const LINK_PROBLEMS = new Set(['invitation_not_found', 'invitation_expired', 'invitation_used']);

/** Accepting an invitation: public (no session), reached from the link an admin shared. */
export function InvitePage({ token }: { token: string }) {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const path = `/api/v1/invitations/${encodeURIComponent(token)}`;

  useEffect(() => {
    let live = true;
    void request(path).then((reply) => {
      if (!live) return;
      if (!reply.ok) {
        setLoad({ state: 'failed', code: reply.code, message: reply.message });
      } else if (isPreview(reply.json)) {
        setLoad({ state: 'ready', preview: reply.json });
        document.title = `Join ${reply.json.orgName} · Niro`;
      } else {
        setLoad({
          state: 'failed',
          code: 'bad_reply',
          message: "The server's reply for this invitation does not have the expected shape",
        });
      }
    });
    return () => {
      live = false;
    };
  }, [path]);

  async function submit(e: FormEvent<HTMLFormElement>, preview: Preview): Promise<void> {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const password = String(form.get('password') ?? '');
    if (!preview.existingUser) {
      if (password.length < PASSWORD_MIN_LENGTH) {
        setError(`Choose a password of at least ${PASSWORD_MIN_LENGTH} characters.`);
        return;
      }
      if (password !== String(form.get('confirm') ?? '')) {
        setError('The two passwords do not match.');
        return;
      }
    }
    setBusy(true);
    setError(null);
    const reply = await request(`${path}/accept`, { password });
    if (reply.ok) {
      window.location.assign('/');
      return;
    }
    setBusy(false);
    if (LINK_PROBLEMS.has(reply.code)) setLoad({ state: 'failed', code: reply.code, message: reply.message });
    else setError(reply.message);
  }

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w={420} maw="100%" component="main">
        {load.state === 'loading' ? (
          <Group gap="xs" role="status" data-testid="invite-loading">
            <Loader size="xs" />
            <Text c="dimmed" size="sm">
              Opening the invitation…
            </Text>
          </Group>
        ) : load.state === 'failed' ? (
          <LinkProblem code={load.code} message={load.message} />
        ) : (
          <form onSubmit={(e) => void submit(e, load.preview)}>
            <Stack>
              <Title order={1} size="h3">
                Join {load.preview.orgName} as {load.preview.role}
              </Title>
              <Text size="sm">
                This invitation is for <b data-testid="invite-email">{load.preview.email}</b>.{' '}
                {load.preview.existingUser
                  ? 'You already have a Niro account: enter its password to accept.'
                  : 'Choose a password for your new Niro account.'}
              </Text>
              <Group gap="xs">
                <Badge variant="light">{load.preview.role}</Badge>
                <Text size="xs" c="dimmed">
                  Link valid until {new Date(load.preview.expiresAt).toLocaleString()}
                </Text>
              </Group>
              <noscript>
                <Text size="sm" c="red">
                  Accepting an invitation needs JavaScript.
                </Text>
              </noscript>
              {error !== null && (
                <Alert color="red" role="alert" data-testid="invite-error">
                  {error}
                </Alert>
              )}
              {/* Lets password managers file the new password under the right account. */}
              <input type="hidden" name="username" autoComplete="username" value={load.preview.email} readOnly />
              {load.preview.existingUser ? (
                <PasswordInput name="password" label="Your password" autoComplete="current-password" required />
              ) : (
                <>
                  <PasswordInput
                    name="password"
                    label="Choose a password"
                    description={`At least ${PASSWORD_MIN_LENGTH} characters`}
                    autoComplete="new-password"
                    required
                  />
                  <PasswordInput name="confirm" label="Confirm password" autoComplete="new-password" required />
                </>
              )}
              <Button type="submit" loading={busy}>
                {load.preview.existingUser ? 'Accept and sign in' : 'Create account and join'}
              </Button>
            </Stack>
          </form>
        )}
      </Paper>
    </Center>
  );
}

function LinkProblem({ code, message }: { code: string; message: string }) {
  const [title, text] =
    code === 'invitation_used'
      ? ['This invitation has already been used', 'Each invitation link works once. If you accepted it, sign in.']
      : code === 'invitation_expired'
        ? ['This invitation has expired', 'Ask the person who invited you for a new link.']
        : code === 'invitation_not_found'
          ? [
              'This invitation link is not valid',
              'It may have been revoked, or the link was copied incompletely. Ask the person who invited you for a new one.',
            ]
          : ['The invitation could not be opened', message];
  return (
    <Stack>
      <Alert
        color={code === 'invitation_used' ? 'blue' : 'red'}
        title={title}
        role="alert"
        data-testid="invite-problem"
      >
        {text}
      </Alert>
      <Anchor href="/login">Go to sign-in</Anchor>
    </Stack>
  );
}

/** A plain fetch: this page has no session, so a 401 is an answer to show, not a reason to sign in. */
async function request(url: string, body?: { password: string }): Promise<Reply> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: body === undefined ? 'GET' : 'POST',
      headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, status: 0, code: 'network', message: `The server could not be reached (${why})` };
  }
  let json: unknown = null;
  try {
    json = await res.json();
  } catch {
    // Not JSON: described by the status below.
  }
  if (res.ok) return { ok: true, json };
  const e = isObject(json) && isObject(json.error) ? json.error : {};
  return {
    ok: false,
    status: res.status,
    code: typeof e.code === 'string' ? e.code : 'error',
    message: typeof e.message === 'string' ? e.message : `The server answered HTTP ${res.status}`,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPreview(v: unknown): v is Preview {
  return (
    isObject(v) &&
    typeof v.orgName === 'string' &&
    typeof v.email === 'string' &&
    typeof v.role === 'string' &&
    typeof v.expiresAt === 'string' &&
    typeof v.existingUser === 'boolean'
  );
}
