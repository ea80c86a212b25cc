import { Badge, Code, Stack, Table, Text, Title } from '@mantine/core';
import { CAPABILITY_GRANTS, type Capabilities } from '@niro/protocol';

export const CAPABILITY_NAMES = [
  'pods',
  'logs',
  'apply',
  'selfUpdate',
] as const satisfies readonly (keyof Capabilities)[];

/** What each capability lets Niro do in the dashboard (docs/install-agent.md, "Change capabilities"). */
const ENABLES: Record<keyof Capabilities, string> = {
  pods: 'Pod lists, restarts and images; crash-loop and OOM incidents.',
  logs: 'Container logs in the Logs section and in incident evidence.',
  apply: 'Deployments, rollback and prune from Niro (close to cluster-admin: turn on only where Niro deploys).',
  selfUpdate: "Niro may change the agent's own image to update it.",
};

/**
 * The command that turns one capability on: the installer again, without a token (the agent keeps
 * its key). Each run installs exactly what it is given and a missing variable means its default,
 * so the command also keeps every other capability as it is now.
 */
export function enableCommand(name: keyof Capabilities, current: Capabilities | null): string {
  const vars = CAPABILITY_NAMES.flatMap((cap) => {
    const grant = CAPABILITY_GRANTS[cap];
    const wanted = cap === name || (current === null ? grant.defaultOn : current[cap]);
    return wanted === grant.defaultOn && cap !== name ? [] : [`${grant.envVar}=${wanted ? 1 : 0}`];
  });
  return `curl -fsSL ${window.location.origin}/install.sh | ${vars.join(' ')} sh`;
}

/**
 * What the agent reports, what each capability enables, and how to turn on one that is off. The
 * agent finds its capabilities from its RBAC; Niro shows a change within one heartbeat.
 */
export function CapabilitiesSection({ capabilities }: { capabilities: Capabilities | null }) {
  return (
    <Stack gap="xs" component="section" aria-labelledby="capabilities-title" data-testid="capabilities">
      <Title order={3} size="h5" id="capabilities-title">
        Capabilities
      </Title>
      {capabilities === null && (
        <Text size="sm" c="dimmed">
          The agent has not reported its capabilities yet: they arrive with its first heartbeat.
        </Text>
      )}
      <Table.ScrollContainer minWidth={640}>
        <Table verticalSpacing={6}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Capability</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Enables</Table.Th>
              <Table.Th>To turn on</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {CAPABILITY_NAMES.map((name) => {
              const on = capabilities?.[name] === true;
              return (
                <Table.Tr key={name} data-capability={name} data-on={on}>
                  <Table.Td>
                    <Code>{name}</Code>
                  </Table.Td>
                  <Table.Td>
                    <Badge size="sm" variant={on ? 'light' : 'outline'} color={on ? 'teal' : 'gray'}>
                      {capabilities === null ? 'unknown' : on ? 'on' : 'off'}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{ENABLES[name]}</Text>
                  </Table.Td>
                  <Table.Td>
                    {on ? (
                      <Text size="sm" c="dimmed">
                        —
                      </Text>
                    ) : (
                      <Code block fz="xs">
                        {enableCommand(name, capabilities)}
                      </Code>
                    )}
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Text size="xs" c="dimmed">
        Run the installer again without <Code fz="xs">NIRO_TOKEN</Code>, with the variables you want on (each run
        installs exactly the capabilities it is given); the agent keeps its key and reports the change with its next
        heartbeat. See docs/install-agent.md, “Change capabilities”.
      </Text>
    </Stack>
  );
}
