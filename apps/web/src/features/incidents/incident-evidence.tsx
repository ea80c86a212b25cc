import { Badge, Code, Group, ScrollArea, Stack, Table, Text, Title } from '@mantine/core';
import { KubeEvent } from '@niro/protocol';
import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import type { ReactNode } from 'react';
import { formatTime } from '../../lib/format.js';
import { EventsTable } from '../cluster/events-table.js';

// The evidence bundle is free-form JSON (its parts depend on the incident type); each part the page
// knows is checked against its shape here and anything else is shown as JSON.

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const EvidenceContainer = Type.Object({
  name: Type.String(),
  image: Type.String(),
  ready: Type.Boolean(),
  state: Type.String(),
  reason: Nullable(Type.String()),
  restarts: Type.Number(),
  lastTerminationReason: Nullable(Type.String()),
});

const EvidencePod = Type.Object({
  namespace: Type.String(),
  name: Type.String(),
  phase: Type.String(),
  nodeName: Nullable(Type.String()),
  containers: Type.Array(EvidenceContainer),
});

const RestartEntry = Type.Object({
  at: Type.String(),
  pod: Type.String(),
  container: Type.String(),
  restarts: Type.Number(),
  reason: Nullable(Type.String()),
});

const EvidenceLogs = Type.Object({
  state: Type.String(),
  pod: Type.Optional(Type.String()),
  lines: Type.Optional(Type.Array(Type.String())),
});

const NodeConditions = Type.Object({
  name: Type.String(),
  conditions: Type.Optional(
    Type.Array(
      Type.Object({
        type: Type.String(),
        status: Type.String(),
        reason: Type.Optional(Type.String()),
        message: Type.Optional(Type.String()),
      }),
    ),
  ),
});

const ObjectOutcome = Type.Object({
  kind: Type.String(),
  namespace: Nullable(Type.String()),
  name: Type.String(),
  action: Type.Optional(Type.String()),
  message: Type.Optional(Nullable(Type.String())),
  fields: Type.Optional(Type.Array(Type.String())),
});

const KNOWN = new Set(['capturedAt', 'pods', 'restartHistory', 'events', 'node', 'logs', 'drifted', 'failed']);

function part<T extends TSchema>(evidence: Record<string, unknown>, key: string, schema: T): Static<T> | undefined {
  const v = evidence[key];
  return Value.Check(schema, v) ? v : undefined;
}

/** What Niro captured when the incident opened: pods, restarts, Warning events, the node, log lines. */
export function IncidentEvidence({ evidence }: { evidence: Record<string, unknown> | null }) {
  if (evidence === null || Object.keys(evidence).length === 0) {
    return <Text c="dimmed">No evidence was captured for this incident.</Text>;
  }
  const pods = part(evidence, 'pods', Type.Array(EvidencePod));
  const restarts = part(evidence, 'restartHistory', Type.Array(RestartEntry));
  const events = part(evidence, 'events', Type.Array(KubeEvent));
  const node = part(evidence, 'node', NodeConditions);
  const logs = part(evidence, 'logs', EvidenceLogs);
  const drifted = part(evidence, 'drifted', Type.Array(ObjectOutcome));
  const failed = part(evidence, 'failed', Type.Array(ObjectOutcome));
  const capturedAt = typeof evidence.capturedAt === 'string' ? evidence.capturedAt : null;
  // Parts of an unexpected shape, and parts this page does not know, are shown as the server sent them.
  const rest = Object.entries(evidence).filter(
    ([k, v]) =>
      !KNOWN.has(k) ||
      (k === 'pods' && pods === undefined) ||
      (k === 'restartHistory' && restarts === undefined) ||
      (k === 'events' && events === undefined) ||
      (k === 'node' && node === undefined) ||
      (k === 'logs' && logs === undefined) ||
      (k === 'drifted' && drifted === undefined) ||
      (k === 'failed' && failed === undefined) ||
      (k === 'capturedAt' && typeof v !== 'string'),
  );

  return (
    <Stack gap="md" data-testid="incident-evidence">
      {capturedAt !== null && (
        <Text size="sm" c="dimmed">
          Captured {formatTime(capturedAt)}
        </Text>
      )}
      {pods !== undefined && pods.length > 0 && (
        <Section title="Pods">
          <Table.ScrollContainer minWidth={700}>
            <Table verticalSpacing={4} fz="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Pod</Table.Th>
                  <Table.Th>Container</Table.Th>
                  <Table.Th>State</Table.Th>
                  <Table.Th>Restarts</Table.Th>
                  <Table.Th>Last termination</Table.Th>
                  <Table.Th>Node</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {pods.flatMap((p) =>
                  p.containers.map((c) => (
                    <Table.Tr key={`${p.namespace}/${p.name}/${c.name}`}>
                      <Table.Td>
                        {p.namespace}/{p.name}
                        <Text size="xs" c="dimmed">
                          {p.phase}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        {c.name}
                        <Text size="xs" c="dimmed" style={{ wordBreak: 'break-all' }}>
                          {c.image}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        {c.state}
                        {c.reason !== null && ` (${c.reason})`}
                      </Table.Td>
                      <Table.Td>{c.restarts}</Table.Td>
                      <Table.Td>{c.lastTerminationReason ?? '–'}</Table.Td>
                      <Table.Td>{p.nodeName ?? '–'}</Table.Td>
                    </Table.Tr>
                  )),
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Section>
      )}
      {restarts !== undefined && restarts.length > 0 && (
        <Section title="Restart history">
          <Stack gap={2}>
            {restarts.map((r, n) => (
              <Text key={n} size="sm">
                {formatTime(r.at)}: {r.pod} / {r.container} restarted {r.restarts}×
                {r.reason !== null && ` (${r.reason})`}
              </Text>
            ))}
          </Stack>
        </Section>
      )}
      {events !== undefined && events.length > 0 && (
        <Section title="Warning events">
          <EventsTable events={events} compact />
        </Section>
      )}
      {node !== undefined && (
        <Section title={`Node ${node.name}`}>
          {(node.conditions ?? []).length === 0 ? (
            <Text size="sm" c="dimmed">
              No conditions reported.
            </Text>
          ) : (
            <Stack gap={2}>
              {(node.conditions ?? []).map((c) => (
                <Text key={c.type} size="sm">
                  {c.type}: {c.status}
                  {c.reason !== undefined && ` (${c.reason})`}
                  {c.message !== undefined && ` — ${c.message}`}
                </Text>
              ))}
            </Stack>
          )}
        </Section>
      )}
      {drifted !== undefined && drifted.length > 0 && (
        <Section title="Objects that drifted">
          <ObjectList items={drifted} />
        </Section>
      )}
      {failed !== undefined && failed.length > 0 && (
        <Section title="Objects that failed to apply">
          <ObjectList items={failed} />
        </Section>
      )}
      {logs !== undefined && <LogEvidence logs={logs} />}
      {rest.map(([k, v]) => (
        <Section key={k} title={k}>
          <Code block>{JSON.stringify(v, null, 2)}</Code>
        </Section>
      ))}
    </Stack>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Stack gap={6}>
      <Title order={4} size="h6">
        {title}
      </Title>
      {children}
    </Stack>
  );
}

function ObjectList({ items }: { items: Static<typeof ObjectOutcome>[] }) {
  return (
    <Stack gap={2}>
      {items.map((o, n) => (
        <Text key={n} size="sm">
          {o.kind} {o.namespace === null ? '' : `${o.namespace}/`}
          {o.name}
          {o.action !== undefined && ` — ${o.action}`}
          {o.fields !== undefined && o.fields.length > 0 && ` (${o.fields.join(', ')})`}
          {typeof o.message === 'string' && `: ${o.message}`}
        </Text>
      ))}
    </Stack>
  );
}

function LogEvidence({ logs }: { logs: Static<typeof EvidenceLogs> }) {
  const title = logs.pod === undefined ? 'Log lines' : `Log lines of ${logs.pod}`;
  let body: ReactNode;
  if (logs.state === 'captured' && logs.lines !== undefined) {
    body =
      logs.lines.length === 0 ? (
        <Text size="sm" c="dimmed">
          The pod wrote no log lines.
        </Text>
      ) : (
        <ScrollArea.Autosize
          mah={320}
          type="auto"
          bd="1px solid var(--mantine-color-default-border)"
          bg="var(--mantine-color-default-hover)"
          style={{ borderRadius: 'var(--mantine-radius-sm)' }}
          tabIndex={0}
          aria-label={title}
        >
          <pre
            data-testid="incident-logs"
            style={{
              margin: 0,
              padding: 'var(--mantine-spacing-xs)',
              fontFamily: 'var(--mantine-font-family-monospace)',
              fontSize: 'var(--mantine-font-size-xs)',
              whiteSpace: 'pre',
            }}
          >
            {logs.lines.join('\n')}
          </pre>
        </ScrollArea.Autosize>
      );
  } else {
    const why: Record<string, string> = {
      pending: 'Fetching the last log lines from the agent…',
      disabled: 'Log lines are not captured: the cluster’s logs capability is off, or no pod is involved.',
      unavailable: 'The agent could not fetch the log lines.',
    };
    body = (
      <Group gap="xs">
        <Badge variant="light" color="gray" size="sm">
          {logs.state}
        </Badge>
        <Text size="sm" c="dimmed">
          {why[logs.state] ?? ''}
        </Text>
      </Group>
    );
  }
  return <Section title={title}>{body}</Section>;
}
