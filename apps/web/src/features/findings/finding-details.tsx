import { Alert, Badge, Button, Code, Group, Modal, Stack, Text, Textarea, Title } from '@mantine/core';
import {
  SUPPRESSION_REASON_MAX_CHARS,
  type FindingSuppression,
  type PolicyRuleInfo,
  type PolicySeverity,
  type StoredFinding,
} from '@niro/protocol';
import { useState } from 'react';
import { apiSend, errorText } from '../../lib/api.js';
import { formatTime } from '../../lib/format.js';
import { formatAge } from '../fleet/format-age.js';

export const SEVERITY_COLOR: Record<PolicySeverity, string> = {
  high: 'red',
  medium: 'orange',
  low: 'yellow',
  info: 'gray',
};

/** The finding's message, its rule's documentation, and Suppress… or the suppression that covers it. */
export function FindingDetails({
  finding: f,
  rule,
  meId,
  onChanged,
}: {
  finding: StoredFinding;
  rule: PolicyRuleInfo | undefined;
  meId: string | null;
  onChanged: () => void;
}) {
  const [suppressOpen, setSuppressOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const s = f.suppression;

  const suppress = async (): Promise<void> => {
    const why = reason.trim();
    if (why === '') {
      setFormError('Say why this finding is accepted; the reason is kept in the audit log.');
      return;
    }
    setBusy(true);
    setFormError(null);
    try {
      await apiSend('POST', '/policy/suppressions', {
        ruleId: f.ruleId,
        object: { kind: f.object.kind, namespace: f.object.namespace, name: f.object.name },
        clusterId: f.clusterId,
        reason: why,
      });
      setSuppressOpen(false);
      setReason('');
      onChanged();
    } catch (err) {
      setFormError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const unsuppress = async (id: string): Promise<void> => {
    setBusy(true);
    setActionError(null);
    try {
      await apiSend('DELETE', `/policy/suppressions/${encodeURIComponent(id)}`);
      onChanged();
    } catch (err) {
      setActionError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const now = Date.now();
  return (
    <Stack gap="sm" py="xs" data-testid="finding-details">
      <Text size="sm">{f.message}</Text>
      <Text size="xs" c="dimmed">
        First seen {formatTime(f.firstSeenAt)}, last seen {formatAge(Math.max(0, now - Date.parse(f.lastSeenAt)))}
        {f.closedAt !== null && `, closed ${formatTime(f.closedAt)}`}
      </Text>
      {rule === undefined ? (
        f.fix !== undefined && <Doc title="How to fix">{f.fix}</Doc>
      ) : (
        <>
          <Doc title={`About “${rule.title}” (${rule.id}, ${rule.category})`}>{rule.description}</Doc>
          <Doc title="How to fix" testId="finding-fix">
            {rule.fix}
          </Doc>
          {rule.needs.length > 0 && <Doc title="Also reads">{rule.needs.join(', ')}</Doc>}
          <Stack gap={4}>
            <Title order={5} size="h6">
              Severity by environment
            </Title>
            <Group gap="lg">
              {(
                [
                  ['Production', rule.severity.production],
                  ['Staging', rule.severity.staging],
                  ['Other environments', rule.severity.nonProduction],
                ] as const
              ).map(([env, severity]) => (
                <Group key={env} gap={6}>
                  <Text size="sm">{env}</Text>
                  <SeverityBadge severity={severity} />
                </Group>
              ))}
            </Group>
          </Stack>
        </>
      )}

      {s !== undefined ? (
        <Alert color="gray" title="Suppressed" data-testid="finding-suppression">
          <Stack gap="xs">
            <Text size="sm">
              By <span data-testid="finding-suppressed-by">{suppressor(s, meId)}</span>, {formatTime(s.createdAt)}
              {s.expiresAt !== undefined && `, until ${formatTime(s.expiresAt)}`}: {s.reason}
            </Text>
            <Group>
              <Button size="xs" variant="default" loading={busy} onClick={() => void unsuppress(s.id)}>
                Remove suppression
              </Button>
            </Group>
          </Stack>
        </Alert>
      ) : (
        f.state === 'open' && (
          <Group>
            <Button size="xs" variant="default" onClick={() => setSuppressOpen(true)}>
              Suppress…
            </Button>
          </Group>
        )
      )}
      {actionError !== null && (
        <Alert color="red" role="alert">
          {actionError}
        </Alert>
      )}

      <Modal opened={suppressOpen} onClose={() => setSuppressOpen(false)} title="Suppress this finding">
        <Stack>
          <Text size="sm">
            “{f.title}” on {f.object.kind} {f.object.namespace}/{f.object.name} in {f.clusterName} is no longer listed
            as open; it shows under Suppressed with your reason until the suppression is removed.
          </Text>
          <Textarea
            label="Reason"
            required
            autosize
            minRows={2}
            maxLength={SUPPRESSION_REASON_MAX_CHARS}
            value={reason}
            error={formError}
            onChange={(e) => setReason(e.currentTarget.value)}
            data-autofocus
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setSuppressOpen(false)}>
              Cancel
            </Button>
            <Button onClick={() => void suppress()} loading={busy}>
              Suppress
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

/** Who suppressed a finding: their email (and "you"), else their user id once the user is deleted. */
function suppressor(s: FindingSuppression, meId: string | null): string {
  const you = s.createdBy !== undefined && s.createdBy === meId;
  if (s.createdByEmail !== null) return you ? `${s.createdByEmail} (you)` : s.createdByEmail;
  if (you) return 'you';
  return s.createdBy === undefined ? 'someone' : `user ${s.createdBy}`;
}

function Doc({ title, children, testId }: { title: string; children: React.ReactNode; testId?: string }) {
  return (
    <Stack gap={2} data-testid={testId}>
      <Title order={5} size="h6">
        {title}
      </Title>
      <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
        {typeof children === 'string' ? <WithCode text={children} /> : children}
      </Text>
    </Stack>
  );
}

/** The catalogue writes field names and values in `backticks`: shown as inline code. */
function WithCode({ text }: { text: string }) {
  return text.split('`').map((piece, n) => (n % 2 === 1 ? <Code key={n}>{piece}</Code> : piece));
}

function SeverityBadge({ severity }: { severity: PolicySeverity }) {
  return (
    <Badge color={SEVERITY_COLOR[severity]} variant="light" size="sm">
      {severity}
    </Badge>
  );
}
