import { Alert, Code, List, Stack, Text } from '@mantine/core';

/** What to do when the cluster's agent has not reported the `logs` capability (docs/install-agent.md). */
export function LogsDisabled() {
  const origin = typeof window === 'undefined' ? 'https://niro.example.com' : window.location.origin;
  return (
    <Alert color="blue" title="Logs are off for this cluster" data-testid="logs-disabled">
      <Stack gap="sm">
        <Text size="sm">
          Niro reads pod logs through the cluster&apos;s agent, which needs the <b>logs</b> capability. The agent is
          read-only by default and reports only what its RBAC really grants, so the viewer appears once the cluster has
          the permission.
        </Text>
        <Text size="sm">
          Turn it on by running the installer again on the cluster, <b>without</b> <Code>NIRO_TOKEN</Code> (the agent
          keeps its key and is not restarted), with <Code>NIRO_ENABLE_LOGS=1</Code>:
        </Text>
        <Code block>{`curl -fsSL ${origin}/install.sh | NIRO_ENABLE_LOGS=1 sh`}</Code>
        <List size="sm" spacing={4}>
          <List.Item>
            It adds the ClusterRole and ClusterRoleBinding <Code>niro-agent-logs</Code>: <Code>get</Code> on{' '}
            <Code>pods</Code> and <Code>pods/log</Code> in every namespace.
          </List.Item>
          <List.Item>
            Each run installs exactly the capabilities it is given: also pass the other variables you use (
            <Code>NIRO_ENABLE_APPLY=1</Code>, …), or they go back to their defaults.
          </List.Item>
          <List.Item>Niro shows the change within one heartbeat (about 15 seconds).</List.Item>
          <List.Item>
            To check what the agent may do:{' '}
            <Code>
              kubectl auth can-i get pods --subresource=log -A --as=system:serviceaccount:niro-system:niro-agent
            </Code>
          </List.Item>
        </List>
        <Text size="sm" c="dimmed">
          Every log stream is a command to the agent and is recorded in the audit log; reading logs needs the member
          role.
        </Text>
      </Stack>
    </Alert>
  );
}
