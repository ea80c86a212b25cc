import { Alert, Badge, Button, Group, Modal, Paper, Stack, Text, Textarea, Timeline, Title } from '@mantine/core';
import { IncidentDetail } from '@niro/protocol';
import { useState } from 'react';
import { apiSend, errorText } from '../../lib/api.js';
import { formatTime } from '../../lib/format.js';
import { Link, usePageTitle, useRouter } from '../../lib/router.js';
import { useApi } from '../../lib/use-api.js';
import { formatAge } from '../fleet/format-age.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { IncidentEvidence } from './incident-evidence.js';
import { SEVERITY_COLOR, STATE_COLOR, ageOf, typeLabel } from './incident-format.js';
import { INCIDENT_POLL_MS } from './incident-list.js';

/** One incident: what, where, who acknowledged it, its timeline and evidence; Acknowledge and Delete. */
export function IncidentDetailView({ id }: { id: string }) {
  const { navigate } = useRouter();
  const path = `/incidents/${encodeURIComponent(id)}`;
  const { data, error, loading, reload } = useApi(path, IncidentDetail, INCIDENT_POLL_MS);
  const [ackOpen, setAckOpen] = useState(false);
  const [deleteOpen, setDeleteOpen] = useState(false);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  usePageTitle(data === null ? 'Incident' : data.title);

  const back = <Link href="/incidents">← All incidents</Link>;
  if (data === null) {
    return (
      <Stack>
        {back}
        {loading ? <PageLoading what="Loading the incident…" /> : <PageError error={error ?? ''} />}
      </Stack>
    );
  }

  const acknowledge = async (): Promise<void> => {
    setBusy(true);
    setActionError(null);
    try {
      const trimmed = note.trim();
      await apiSend('POST', `${path}/ack`, trimmed === '' ? {} : { note: trimmed });
      setAckOpen(false);
      setNote('');
      reload();
    } catch (err) {
      setAckOpen(false);
      setActionError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (): Promise<void> => {
    setBusy(true);
    setActionError(null);
    try {
      await apiSend('DELETE', path);
      setDeleteOpen(false);
      navigate('/incidents?state=resolved');
    } catch (err) {
      setDeleteOpen(false);
      setActionError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const now = Date.now();
  return (
    <Stack gap="md" data-testid="incident-detail" data-state={data.state}>
      {back}
      <Group justify="space-between" align="flex-start" wrap="wrap">
        <Stack gap={4}>
          <Group gap="xs">
            <Badge color={SEVERITY_COLOR[data.severity]} variant="light">
              {data.severity}
            </Badge>
            <Badge color={STATE_COLOR[data.state]} variant={data.state === 'firing' ? 'filled' : 'light'}>
              {data.state}
            </Badge>
            <Text size="sm" c="dimmed">
              {typeLabel(data.type)}
            </Text>
          </Group>
          <Title order={2} size="h4">
            {data.title}
          </Title>
        </Stack>
        <Group gap="xs">
          {data.state === 'firing' && data.orgId !== null && (
            <Button onClick={() => setAckOpen(true)} disabled={busy}>
              Acknowledge
            </Button>
          )}
          {data.state === 'resolved' && data.orgId !== null && (
            <Button color="red" variant="light" onClick={() => setDeleteOpen(true)} disabled={busy}>
              Delete
            </Button>
          )}
        </Group>
      </Group>

      {error !== null && <PageError title="Could not refresh the incident" error={error} />}
      {actionError !== null && (
        <Alert color="red" title="The server refused" role="alert" data-testid="incident-action-error">
          {actionError}
        </Alert>
      )}

      <Paper withBorder p="sm">
        <Stack gap={4}>
          <Fact label="Cluster">
            {data.clusterId === null ? (
              'Fleet-wide'
            ) : (
              <Link href={`/clusters/${encodeURIComponent(data.clusterId)}`}>{data.clusterName ?? data.clusterId}</Link>
            )}
          </Fact>
          <Fact label="About">{data.scope}</Fact>
          {data.orgId === null && (
            <Fact label="Fleet-wide">Seen across the fleet; it resolves by itself and cannot be acknowledged.</Fact>
          )}
          <Fact label="Opened">
            {formatTime(data.openedAt)} ({formatAge(ageOf(data.openedAt, now))})
          </Fact>
          {data.acknowledgedBy !== null && (
            <Fact label="Acknowledged" testId="incident-acknowledged">
              acknowledged by {data.acknowledgedBy}
              {data.acknowledgedAt !== null && `, ${formatTime(data.acknowledgedAt)}`}
            </Fact>
          )}
          {data.resolvedAt !== null && (
            <Fact label="Resolved">
              {formatTime(data.resolvedAt)} ({formatAge(ageOf(data.resolvedAt, now))})
            </Fact>
          )}
        </Stack>
      </Paper>

      <Title order={3} size="h5">
        Timeline
      </Title>
      <Timeline bulletSize={14} lineWidth={2} active={data.timeline.length - 1} data-testid="incident-timeline">
        {data.timeline.map((e, n) => (
          <Timeline.Item key={n} title={e.message}>
            <Text size="xs" c="dimmed">
              {formatTime(e.at)} · {e.kind.replace(/_/g, ' ')}
              {e.actor !== null && ` · ${e.actor}`}
            </Text>
          </Timeline.Item>
        ))}
      </Timeline>

      <Title order={3} size="h5">
        Evidence
      </Title>
      <IncidentEvidence evidence={data.evidence} />

      <Modal opened={ackOpen} onClose={() => setAckOpen(false)} title="Acknowledge the incident">
        <Stack>
          <Text size="sm">
            It stays open and resolves by itself once the condition clears; notifications name you as the one on it.
          </Text>
          <Textarea
            label="Note (optional)"
            description="Shown in the timeline"
            maxLength={1000}
            autosize
            minRows={2}
            value={note}
            onChange={(e) => setNote(e.currentTarget.value)}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setAckOpen(false)}>
              Cancel
            </Button>
            <Button onClick={() => void acknowledge()} loading={busy}>
              Acknowledge
            </Button>
          </Group>
        </Stack>
      </Modal>

      <Modal opened={deleteOpen} onClose={() => setDeleteOpen(false)} title="Delete the incident?">
        <Stack>
          <Text size="sm">
            “{data.title}” and its timeline and evidence are removed for everyone. The audit log keeps a record.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDeleteOpen(false)}>
              Cancel
            </Button>
            <Button color="red" onClick={() => void remove()} loading={busy}>
              Delete incident
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function Fact({ label, children, testId }: { label: string; children: React.ReactNode; testId?: string }) {
  return (
    <Group gap="xs" wrap="nowrap" align="flex-start" data-testid={testId}>
      <Text size="sm" c="dimmed" w={110} style={{ flexShrink: 0 }}>
        {label}
      </Text>
      <Text size="sm" component="div">
        {children}
      </Text>
    </Group>
  );
}
