import { useEffect, useState } from 'react';
import { Badge, Box, Group, Stack, Table, Text, Title } from '@mantine/core';
import { evaluateYaml, type Environment } from '@niro/policy';
import type { ManifestError, PolicyFinding, PolicySeverity } from '@niro/protocol';
import { SEVERITY_COLOR, SEVERITY_ORDER } from './deployment-ui.js';
import { ListTable } from '../../lib/list-table.js';

export type LiveFindings = { findings: PolicyFinding[]; errors: ManifestError[]; environment: Environment };

/**
 * The policy findings of `yaml` for a cluster of `environment`, computed in the browser with the
 * same rules the server runs before an apply; recomputed `delayMs` after the last change.
 */
export function useLiveFindings(yaml: string, environment: Environment, delayMs = 300): LiveFindings | null {
  const [result, setResult] = useState<LiveFindings | null>(null);
  useEffect(() => {
    const timer = setTimeout(() => {
      const evaluation = evaluateYaml(yaml, { environment });
      setResult({ findings: evaluation.findings, errors: evaluation.errors, environment });
    }, delayMs);
    return () => clearTimeout(timer);
  }, [yaml, environment, delayMs]);
  return result;
}

export function countBySeverity(findings: readonly { severity: PolicySeverity }[]): Record<PolicySeverity, number> {
  const counts: Record<PolicySeverity, number> = { high: 0, medium: 0, low: 0, info: 0 };
  for (const f of findings) counts[f.severity] += 1;
  return counts;
}

export function SeverityCounts({ counts }: { counts: Record<PolicySeverity, number> }) {
  return (
    <Group gap={4} wrap="wrap">
      {SEVERITY_ORDER.map((s) => (
        <Badge key={s} color={SEVERITY_COLOR[s]} variant={counts[s] > 0 ? 'light' : 'outline'} size="sm">
          {counts[s]} {s}
        </Badge>
      ))}
    </Group>
  );
}

/** Findings as a table: severity, rule, object, message and how to fix it. */
export function FindingsTable({ findings, testId }: { findings: readonly PolicyFinding[]; testId?: string }) {
  if (findings.length === 0) {
    return (
      <Text size="sm" c="dimmed" data-testid={testId === undefined ? undefined : `${testId}-none`}>
        No findings: these manifests pass every policy rule.
      </Text>
    );
  }
  return (
    <ListTable
      minWidth={560}
      verticalSpacing={4}
      data-testid={testId}
      columns={['Severity', 'Rule', 'Object', 'Message and fix']}
    >
      {findings.map((f, i) => (
        <Table.Tr key={`${f.ruleId}:${f.object.kind}:${f.object.name}:${f.container ?? ''}:${i}`} data-rule={f.ruleId}>
          <Table.Td>
            <Badge color={SEVERITY_COLOR[f.severity]} variant="light" size="sm">
              {f.severity}
            </Badge>
          </Table.Td>
          <Table.Td>
            <Text size="sm" fw={500}>
              {f.title}
            </Text>
            <Text size="xs" c="dimmed">
              {f.ruleId}
            </Text>
          </Table.Td>
          <Table.Td>
            <Text size="sm">
              {f.object.kind}/{f.object.name}
              {f.container === undefined ? '' : ` (${f.container})`}
            </Text>
          </Table.Td>
          <Table.Td>
            <Text size="sm">{f.message}</Text>
            {f.fix !== undefined && (
              <Text size="xs" c="dimmed">
                Fix: {f.fix}
              </Text>
            )}
          </Table.Td>
        </Table.Tr>
      ))}
    </ListTable>
  );
}

/** Findings as a compact list (the editor's side column): severity, rule, object, message and fix. */
function FindingsList({ findings }: { findings: readonly PolicyFinding[] }) {
  if (findings.length === 0) {
    return (
      <Text size="sm" c="dimmed" data-testid="live-findings-none">
        No findings: these manifests pass every policy rule.
      </Text>
    );
  }
  return (
    <Box
      component="ul"
      className="niro-findings-list"
      tabIndex={0}
      aria-label="Findings"
      data-testid="live-findings-list"
    >
      {findings.map((f, i) => (
        <Box
          component="li"
          key={`${f.ruleId}:${f.object.kind}:${f.object.name}:${f.container ?? ''}:${i}`}
          data-rule={f.ruleId}
          data-severity={f.severity}
          className="niro-finding"
        >
          <Group gap={6} wrap="nowrap" align="flex-start">
            <Badge color={SEVERITY_COLOR[f.severity]} variant="light" size="sm" miw={72} style={{ flexShrink: 0 }}>
              {f.severity}
            </Badge>
            <Stack gap={0}>
              <Text size="sm" fw={500}>
                {f.title}{' '}
                <Text span size="xs" c="dimmed">
                  {f.object.kind}/{f.object.name}
                  {f.container === undefined ? '' : ` · ${f.container}`}
                </Text>
              </Text>
              <Text size="sm">{f.message}</Text>
              {f.fix !== undefined && (
                <Text size="xs" c="dimmed">
                  Fix: {f.fix}
                </Text>
              )}
            </Stack>
          </Group>
        </Box>
      ))}
    </Box>
  );
}

const FINDINGS_CSS = `
.niro-findings-list{list-style:none;margin:0;padding:0 4px 0 0;max-height:420px;overflow:auto;border-top:1px solid var(--mantine-color-default-border)}
.niro-findings-list:focus-visible{outline:2px solid var(--mantine-primary-color-filled);outline-offset:2px}
.niro-finding{padding:6px 0;border-bottom:1px solid var(--mantine-color-default-border)}
`;

/** The live findings of what will be applied, for the chosen cluster's environment. */
export function LiveFindingsPanel({ live, clusterChosen }: { live: LiveFindings | null; clusterChosen: boolean }) {
  return (
    <Stack gap="xs" component="section" aria-labelledby="live-findings-title" data-testid="live-findings">
      <style dangerouslySetInnerHTML={{ __html: FINDINGS_CSS }} />
      <Group justify="space-between" wrap="wrap">
        <Title order={3} size="h5" id="live-findings-title">
          Policy findings
        </Title>
        {live !== null && <SeverityCounts counts={countBySeverity(live.findings)} />}
      </Group>
      <Text size="xs" c="dimmed">
        {clusterChosen
          ? `Severities for a ${live?.environment ?? ''} cluster. Findings are advice: they never block an apply.`
          : 'Choose a cluster: severities depend on its environment. Findings are advice: they never block an apply.'}
      </Text>
      {live === null ? (
        <Text size="sm" c="dimmed">
          Checking…
        </Text>
      ) : (
        <>
          {live.errors.length > 0 && (
            <Stack gap={2} data-testid="manifest-errors" role="status">
              {live.errors.map((e, i) => (
                <Text key={i} size="sm" c="red">
                  {e.line === undefined ? '' : `Line ${e.line}: `}
                  {e.message}
                </Text>
              ))}
            </Stack>
          )}
          <FindingsList findings={live.findings} />
        </>
      )}
    </Stack>
  );
}
