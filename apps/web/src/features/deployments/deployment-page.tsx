import { useEffect, useState, type ReactNode } from 'react';
import {
  Alert,
  Badge,
  Button,
  Group,
  Modal,
  NativeSelect,
  Progress,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { Deployment, DeploymentRevisionList } from '@niro/protocol';
import { apiSend, checked, errorText } from '../../lib/api.js';
import { useApi } from '../../lib/use-api.js';
import { Link, usePageTitle, useRouter } from '../../lib/router.js';
import { formatTime } from '../../lib/format.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import {
  DEPLOYMENTS_CSS,
  DRIFT_COLOR,
  LIFECYCLE_COLOR,
  ROLLOUT_COLOR,
  STATUS_COLOR,
  StateBadge,
  useCanWrite,
} from './deployment-ui.js';
import { RevisionsSection } from './revisions.js';
import { DeploymentEditor } from './deployment-editor.js';
import { ListTable } from '../../lib/list-table.js';

const BUSY_POLL_MS = 5_000;
const IDLE_POLL_MS = 30_000;

/** Something is under way: the page follows it every 5 s. */
function busy(d: Deployment): boolean {
  return (
    d.status === 'pending' ||
    d.rollout.state === 'progressing' ||
    d.lifecycle === 'deleting' ||
    d.drift.state === 'checking'
  );
}

/** `/deployments/:id/edit`: the editor with the deployment's current source. */
export function EditDeploymentPage({ id }: { id: string }) {
  usePageTitle('Edit deployment');
  const state = useApi(`/deployments/${encodeURIComponent(id)}`, Deployment);
  if (state.data === null) return state.error === null ? <PageLoading /> : <PageError error={state.error} />;
  return <DeploymentEditor existing={state.data} />;
}

/** `/deployments/new`. */
export function NewDeploymentPage() {
  usePageTitle('New deployment');
  return <DeploymentEditor existing={null} />;
}

/** `/deployments/:id`: status, actions, rollout, drift and revisions of one deployment. */
export function DeploymentPage({ id }: { id: string }) {
  const [pollMs, setPollMs] = useState(BUSY_POLL_MS);
  const state = useApi(`/deployments/${encodeURIComponent(id)}`, Deployment, pollMs);
  const revisions = useApi(`/deployments/${encodeURIComponent(id)}/revisions`, DeploymentRevisionList, pollMs);
  const d = state.data;
  usePageTitle(d === null ? 'Deployment' : d.name);
  const wanted = d === null || busy(d) ? BUSY_POLL_MS : IDLE_POLL_MS;
  useEffect(() => setPollMs(wanted), [wanted]);

  if (d === null)
    return state.error === null ? <PageLoading what="Loading the deployment…" /> : <PageError error={state.error} />;
  const reload = (): void => {
    state.reload();
    revisions.reload();
  };
  return (
    <Stack gap="lg">
      <style dangerouslySetInnerHTML={{ __html: DEPLOYMENTS_CSS }} />
      <Header d={d} />
      {state.error !== null && (
        <Text size="sm" c="red" role="status">
          Update failed: {state.error}
        </Text>
      )}
      <Actions d={d} revisions={(revisions.data?.items ?? []).map((r) => r.revision)} onDone={reload} />
      {d.lastError !== null && (
        <Alert color="red" title="Last error" data-testid="last-error">
          {d.lastError}
        </Alert>
      )}
      <RolloutPanel d={d} />
      <DriftPanel d={d} />
      {revisions.error !== null && revisions.data === null ? (
        <PageError error={revisions.error} />
      ) : (
        <RevisionsSection deploymentId={d.id} revisions={revisions.data?.items ?? []} />
      )}
    </Stack>
  );
}

function Header({ d }: { d: Deployment }) {
  const source =
    d.source.type === 'git' ? `Git ${d.source.url} at ${d.source.ref}` : d.source.type === 'yaml' ? 'YAML' : 'Builder';
  return (
    <Stack gap={6} component="header" data-testid="deployment-header">
      <Group gap="xs">
        <Link href="/deployments" className="niro-text-link">
          Deployments
        </Link>
        <Text size="sm" c="dimmed">
          /
        </Text>
      </Group>
      <Group gap="sm" wrap="wrap">
        <Title order={2} size="h3" data-testid="deployment-name">
          {d.name}
        </Title>
        <StateBadge value={d.status} color={STATUS_COLOR[d.status]} testId="deployment-status" />
        <StateBadge value={d.lifecycle} color={LIFECYCLE_COLOR[d.lifecycle]} testId="deployment-lifecycle" />
      </Group>
      <Group gap="lg" wrap="wrap">
        <Text size="sm">
          Cluster{' '}
          <Link href={`/clusters/${encodeURIComponent(d.clusterId)}`} className="niro-text-link">
            {d.clusterName}
          </Link>{' '}
          ({d.environment})
        </Text>
        <Text size="sm">Namespace {d.namespace}</Text>
        <Text size="sm" data-testid="deployment-revision">
          Revision {d.revision}
          {d.appliedRevision !== null && d.appliedRevision !== d.revision ? ` (applied: ${d.appliedRevision})` : ''}
        </Text>
        <Text size="sm">Source: {source}</Text>
        <Text size="sm">Updated {formatTime(d.updatedAt)}</Text>
      </Group>
    </Stack>
  );
}

type Dialog = 'rollback' | 'delete' | 'unmanage' | null;

function Actions({ d, revisions, onDone }: { d: Deployment; revisions: number[]; onDone: () => void }) {
  const { navigate } = useRouter();
  const { canWrite, role } = useCanWrite(d.orgId);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [working, setWorking] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [target, setTarget] = useState<number | null>(null);
  const [typed, setTyped] = useState('');
  const active = d.lifecycle === 'active';
  const enabled = canWrite && active && working === null;
  const earlier = revisions.filter((r) => r !== d.revision);
  const rollbackTo = target ?? earlier[0] ?? null;
  const base = `/deployments/${encodeURIComponent(d.id)}`;

  const run = async (what: string, method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<void> => {
    setWorking(what);
    setError(null);
    try {
      checked(Deployment, await apiSend(method, path, body), path);
      setDialog(null);
      onDone();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setWorking(null);
    }
  };

  return (
    <Stack gap="xs">
      {role !== null && !canWrite && (
        <Alert color="blue" title="Read-only" data-testid="deployment-read-only">
          You are a {role} in this organization: applying, rolling back or deleting needs the member role.
        </Alert>
      )}
      {!active && (
        <Text size="sm" c="dimmed">
          {d.lifecycle === 'deleting'
            ? 'Deleting: waiting for the agent to remove the objects.'
            : d.lifecycle === 'deleted'
              ? 'Deleted: the objects were removed; this page is the record.'
              : 'No longer managed: the objects keep running, Niro does not change them.'}
        </Text>
      )}
      <Group gap="xs" wrap="wrap" role="group" aria-label="Actions">
        <Button
          size="sm"
          disabled={!enabled}
          loading={working === 'apply'}
          onClick={() => void run('apply', 'POST', `${base}/apply`, {})}
        >
          Apply again
        </Button>
        <Button size="sm" variant="default" disabled={!canWrite || !active} onClick={() => navigate(`${base}/edit`)}>
          Edit
        </Button>
        <Button
          size="sm"
          variant="default"
          disabled={!enabled || earlier.length === 0}
          onClick={() => setDialog('rollback')}
        >
          Rollback…
        </Button>
        <Button
          size="sm"
          variant="default"
          disabled={!enabled || d.appliedRevision === null}
          loading={working === 'diff'}
          onClick={() => void run('diff', 'POST', `${base}/diff`)}
        >
          Check drift
        </Button>
        <Button size="sm" variant="default" disabled={!enabled} onClick={() => setDialog('unmanage')}>
          Stop managing…
        </Button>
        <Button
          size="sm"
          color="red"
          variant="outline"
          disabled={!enabled}
          onClick={() => {
            setTyped('');
            setDialog('delete');
          }}
        >
          Delete…
        </Button>
      </Group>
      {error !== null && dialog === null && (
        <Alert color="red" title="Not done" role="alert" data-testid="action-error">
          {error}
        </Alert>
      )}

      <Modal opened={dialog === 'rollback'} onClose={() => setDialog(null)} title="Roll back">
        <Stack gap="sm">
          <Text size="sm">
            Applies the manifests of an earlier revision again, as a new revision, and removes objects that revision
            does not have (prune).
          </Text>
          <NativeSelect
            label="Revision to apply again"
            value={rollbackTo === null ? '' : String(rollbackTo)}
            onChange={(e) => setTarget(Number(e.currentTarget.value))}
            data={earlier.map((r) => ({ value: String(r), label: `Revision ${r}` }))}
          />
          <DialogFooter error={error} onCancel={() => setDialog(null)}>
            <Button
              disabled={rollbackTo === null}
              loading={working === 'rollback'}
              onClick={() => void run('rollback', 'POST', `${base}/rollback`, { revision: rollbackTo })}
            >
              Roll back to revision {rollbackTo ?? ''}
            </Button>
          </DialogFooter>
        </Stack>
      </Modal>

      <Modal opened={dialog === 'unmanage'} onClose={() => setDialog(null)} title="Stop managing this deployment?">
        <Stack gap="sm">
          <Text size="sm">
            Niro forgets the deployment: its objects keep running in the cluster untouched, and it is archived here with
            its revisions. Nothing is deleted.
          </Text>
          <DialogFooter error={error} onCancel={() => setDialog(null)}>
            <Button loading={working === 'unmanage'} onClick={() => void run('unmanage', 'POST', `${base}/unmanage`)}>
              Stop managing
            </Button>
          </DialogFooter>
        </Stack>
      </Modal>

      <Modal opened={dialog === 'delete'} onClose={() => setDialog(null)} title="Delete this deployment?">
        <Stack gap="sm">
          <Text size="sm">
            The agent deletes every object this deployment applied in <b>{d.clusterName}</b> (namespace {d.namespace}):
            its pods stop. The deployment is then archived as deleted. To keep the objects running, use “Stop managing”
            instead.
          </Text>
          <TextInput
            label="Deployment name"
            description={`Type ${d.name} to confirm`}
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            autoComplete="off"
          />
          <DialogFooter error={error} onCancel={() => setDialog(null)}>
            <Button
              color="red"
              disabled={typed !== d.name}
              loading={working === 'delete'}
              onClick={() => void run('delete', 'DELETE', base)}
            >
              Delete deployment and objects
            </Button>
          </DialogFooter>
        </Stack>
      </Modal>
    </Stack>
  );
}

/** The foot of a confirm dialog: the action's error in the server's words, Cancel, and the action's button. */
function DialogFooter({
  error,
  onCancel,
  children,
}: {
  error: string | null;
  onCancel: () => void;
  children: ReactNode;
}) {
  return (
    <>
      {error !== null && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={onCancel}>
          Cancel
        </Button>
        {children}
      </Group>
    </>
  );
}

function RolloutPanel({ d }: { d: Deployment }) {
  const r = d.rollout;
  // The share of the new version that is up: replicas of the old one count as ready but not updated.
  const upToDate = Math.min(r.updatedReplicas, r.readyReplicas, r.availableReplicas);
  const percent =
    r.desiredReplicas === 0 ? (r.state === 'ready' ? 100 : 0) : Math.round((100 * upToDate) / r.desiredReplicas);
  return (
    <Stack gap="xs" component="section" aria-labelledby="rollout-title" data-testid="rollout">
      <Group gap="sm">
        <Title order={3} size="h4" id="rollout-title">
          Rollout
        </Title>
        <StateBadge value={r.state} color={ROLLOUT_COLOR[r.state]} testId="rollout-state" />
        {r.revision !== null && <Text size="sm">revision {r.revision}</Text>}
      </Group>
      {r.state === 'none' ? (
        <Text size="sm" c="dimmed">
          No workload to follow yet{d.appliedRevision === null ? ': nothing has been applied.' : '.'}
        </Text>
      ) : (
        <>
          <Group gap="sm" wrap="nowrap">
            <Progress
              value={percent}
              color={ROLLOUT_COLOR[r.state]}
              w={280}
              aria-label={`${upToDate} of ${r.desiredReplicas} replicas updated and ready`}
            />
            <Text size="sm" data-testid="rollout-ready">
              {r.readyReplicas}/{r.desiredReplicas} ready · {r.updatedReplicas} updated · {r.availableReplicas}{' '}
              available
            </Text>
          </Group>
          <Text size="xs" c="dimmed">
            {r.state === 'ready' && r.readyAt !== null && `Ready since ${formatTime(r.readyAt)}. `}
            {r.state === 'progressing' &&
              r.deadlineAt !== null &&
              `Counts as stalled if not ready by ${formatTime(r.deadlineAt)}. `}
            {r.state === 'stalled' && 'Not ready by its progress deadline: look at the pods below. '}
            {r.reportedAt !== null && `From the agent's report of ${formatTime(r.reportedAt)}.`}
          </Text>
        </>
      )}
      {r.workloads.length > 0 && (
        <ListTable
          minWidth={520}
          data-testid="rollout-workloads"
          columns={['Workload', 'Ready', 'Updated', 'Available', 'State']}
        >
          {r.workloads.map((w) => (
            <Table.Tr key={`${w.kind}/${w.name}`}>
              <Table.Td>
                {w.kind}/{w.name}
              </Table.Td>
              <Table.Td>
                {w.readyReplicas}/{w.replicas}
              </Table.Td>
              <Table.Td>{w.updatedReplicas}</Table.Td>
              <Table.Td>{w.availableReplicas}</Table.Td>
              <Table.Td>{w.ready ? 'ready' : w.observed ? 'rolling out' : 'waiting for the new generation'}</Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      )}
      {r.pods.length > 0 && (
        <ListTable minWidth={520} data-testid="rollout-pods" columns={['Pod', 'Phase', 'Ready', 'Restarts', 'Reason']}>
          {r.pods.map((p) => (
            <Table.Tr key={p.name} data-pod={p.name}>
              <Table.Td>{p.name}</Table.Td>
              <Table.Td>{p.phase}</Table.Td>
              <Table.Td>{p.ready ? 'yes' : 'no'}</Table.Td>
              <Table.Td>{p.restarts}</Table.Td>
              <Table.Td>
                {p.reason === null ? (
                  '—'
                ) : (
                  <Badge color="red" variant="light" size="sm" data-testid="pod-reason">
                    {p.reason}
                  </Badge>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      )}
    </Stack>
  );
}

function DriftPanel({ d }: { d: Deployment }) {
  const drift = d.drift;
  return (
    <Stack gap="xs" component="section" aria-labelledby="drift-title" data-testid="drift">
      <Group gap="sm">
        <Title order={3} size="h4" id="drift-title">
          Drift
        </Title>
        <StateBadge value={drift.state} color={DRIFT_COLOR[drift.state]} testId="drift-state" />
        <Text size="sm" c="dimmed">
          {drift.checkedAt === null ? 'Not checked yet' : `Checked ${formatTime(drift.checkedAt)}`}
        </Text>
      </Group>
      {drift.state === 'clean' && <Text size="sm">The live objects match the applied revision.</Text>}
      {drift.objects.length > 0 && (
        <ListTable minWidth={520} data-testid="drift-objects" columns={['Object', 'State', 'Changed fields']}>
          {drift.objects.map((o, i) => (
            <Table.Tr key={i}>
              <Table.Td>
                {o.kind} {o.namespace === undefined ? '' : `${o.namespace}/`}
                {o.name}
              </Table.Td>
              <Table.Td>{o.action}</Table.Td>
              <Table.Td>{(o.fields ?? []).join(', ') || (o.message ?? '')}</Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      )}
    </Stack>
  );
}
