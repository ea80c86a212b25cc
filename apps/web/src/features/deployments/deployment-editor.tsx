import { useMemo, useState, type FormEvent } from 'react';
import {
  Alert,
  Badge,
  Button,
  Code,
  Grid,
  Group,
  NativeSelect,
  PasswordInput,
  Stack,
  Tabs,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { Value } from 'typebox/value';
import { buildManifests, DEFAULT_FORM } from '@niro/builder';
import {
  ClusterList,
  Deployment,
  DeploymentName,
  NamespaceName,
  RegistryList,
  type Cluster,
  type DeploymentForm,
  type DeploymentSourceRequest,
} from '@niro/protocol';
import { errorText } from '../../lib/api.js';
import { useApi } from '../../lib/use-api.js';
import { Link, useRouter } from '../../lib/router.js';
import { enableCommand } from '../cluster/capabilities.js';
import { BuilderForm } from './builder-form.js';
import { DEPLOYMENTS_CSS, deploymentHref, pullSecretName, useCanWrite } from './deployment-ui.js';
import { LiveFindingsPanel, useLiveFindings } from './findings-panel.js';
import { checkForm } from './form-checks.js';
import { LazyCodeEditor } from './lazy-code-editor.js';
import { FormApiError, sendForm, type FieldError } from './send.js';

type SourceTab = 'builder' | 'yaml' | 'git';
type GitFields = { url: string; ref: string; path: string; username: string; password: string };

const isTab = (v: string | null): v is SourceTab => v === 'builder' || v === 'yaml' || v === 'git';

/**
 * Create a deployment (`existing` null) or change the source of one and apply it: cluster,
 * namespace and name, then the source as a builder form, YAML or a Git location. The builder and
 * YAML tabs show what will be applied and its policy findings as they are typed.
 */
export function DeploymentEditor({ existing }: { existing: Deployment | null }) {
  const { navigate } = useRouter();
  const clusters = useApi('/clusters', ClusterList);
  const registries = useApi('/registries', RegistryList);
  const source = existing?.source;

  const [clusterId, setClusterId] = useState(existing?.clusterId ?? '');
  const [namespace, setNamespace] = useState(existing?.namespace ?? 'default');
  const [name, setName] = useState(existing?.name ?? DEFAULT_FORM.name);
  const [tab, setTab] = useState<SourceTab>(source?.type ?? 'builder');
  const [form, setForm] = useState<DeploymentForm>(source?.type === 'builder' ? source.form : DEFAULT_FORM);
  const [yaml, setYaml] = useState(source?.type === 'yaml' ? source.yaml : '');
  const [git, setGit] = useState<GitFields>(
    source?.type === 'git'
      ? { url: source.url, ref: source.ref, path: source.path, username: '', password: '' }
      : { url: 'https://', ref: 'main', path: '', username: '', password: '' },
  );
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<{ message: string; fields: FieldError[] } | null>(null);

  const cluster: Cluster | undefined = clusters.data?.items.find((c) => c.id === clusterId);
  const { canWrite, role } = useCanWrite(cluster?.orgId ?? existing?.orgId ?? null);
  const check = useMemo(() => checkForm(form), [form]);
  const builtYaml = useMemo(
    () =>
      buildManifests(form, {
        namespace: Value.Check(NamespaceName, namespace) ? namespace : 'default',
        ...(form.registryId === undefined ? {} : { imagePullSecretName: pullSecretName(form.registryId) }),
      }).yaml,
    [form, namespace],
  );
  const applied = tab === 'builder' ? builtYaml : tab === 'yaml' ? yaml : '';
  const live = useLiveFindings(applied, cluster?.environment ?? 'unspecified');

  // Server field errors by their place in the form ("body.source.form.ports[0].name" → "ports[0].name").
  const serverIssues = new Map<string, string>();
  for (const f of error?.fields ?? []) {
    const at = f.field.replace(/^body\./, '');
    serverIssues.set(at.startsWith('source.form.') ? at.slice('source.form.'.length) : at, f.message);
  }
  const issues = new Map([...serverIssues, ...check.issues]);
  const nameError = Value.Check(DeploymentName, name)
    ? serverIssues.get('name')
    : 'lower-case letters, digits and dashes, at most 63 characters';
  const namespaceError = Value.Check(NamespaceName, namespace)
    ? serverIssues.get('namespace')
    : 'a namespace name: lower-case letters, digits and dashes';
  const gitUrlError = git.url.startsWith('https://') ? undefined : 'only https:// URLs are fetched';

  const changeName = (next: string): void => {
    // The builder's app name follows the deployment's name until it is changed on its own.
    if (form.name === name) setForm({ ...form, name: next });
    setName(next);
  };

  const switchTab = (next: string | null): void => {
    if (!isTab(next)) return;
    // The generated YAML goes over to the YAML tab: from there on it is a YAML deployment.
    if (tab === 'builder' && next === 'yaml') setYaml(builtYaml);
    setTab(next);
  };

  const sourceRequest = (): DeploymentSourceRequest | null => {
    if (tab === 'builder') return check.valid === null ? null : { type: 'builder', form: check.valid };
    if (tab === 'yaml') return yaml.trim() === '' ? null : { type: 'yaml', yaml };
    if (gitUrlError !== undefined || git.ref === '') return null;
    const credential =
      git.username !== '' && git.password !== ''
        ? { credential: { username: git.username, password: git.password } }
        : {};
    return { type: 'git', url: git.url, ref: git.ref, path: git.path, ...credential };
  };
  const request = sourceRequest();
  const ready =
    request !== null &&
    (existing !== null || (cluster !== undefined && nameError === undefined && namespaceError === undefined));

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (request === null) return;
    setSubmitting(true);
    setError(null);
    try {
      const saved =
        existing === null
          ? await sendForm('POST', '/deployments', { name, clusterId, namespace, source: request }, Deployment)
          : await sendForm(
              'PATCH',
              `/deployments/${encodeURIComponent(existing.id)}`,
              { source: request, apply: true },
              Deployment,
            );
      navigate(deploymentHref(saved.id));
    } catch (err) {
      setError({ message: errorText(err), fields: err instanceof FormApiError ? err.fields : [] });
      setSubmitting(false);
    }
  };

  const applyMissing = cluster !== undefined && cluster.capabilities?.apply !== true;
  const clusterOptions = (clusters.data?.items ?? []).map((c) => ({
    value: c.id,
    label: `${c.name} (${c.environment}${c.capabilities?.apply === true ? '' : ', apply off'})`,
  }));

  return (
    <Stack gap="md" component="form" onSubmit={(e) => void submit(e)} data-testid="deployment-editor">
      <style dangerouslySetInnerHTML={{ __html: DEPLOYMENTS_CSS }} />
      <Group justify="space-between" wrap="wrap">
        <Title order={2} size="h3">
          {existing === null ? 'New deployment' : `Edit ${existing.name}`}
        </Title>
        <Link href={existing === null ? '/deployments' : deploymentHref(existing.id)} className="niro-text-link">
          {existing === null ? 'Back to deployments' : 'Back to the deployment'}
        </Link>
      </Group>
      {role !== null && !canWrite && (
        <Alert color="blue" title="Read-only">
          You are a {role} in this organization: creating or changing deployments needs the member role.
        </Alert>
      )}
      {clusters.error !== null && <Alert color="red">{clusters.error}</Alert>}

      <Group gap="sm" align="flex-start" wrap="wrap">
        {existing === null ? (
          <NativeSelect
            label="Cluster"
            value={clusterId}
            onChange={(e) => setClusterId(e.currentTarget.value)}
            data={[
              { value: '', label: clusters.loading ? 'Loading clusters…' : 'Choose a cluster' },
              ...clusterOptions,
            ]}
            error={serverIssues.get('clusterId')}
            w={300}
          />
        ) : (
          <TextInput label="Cluster" value={existing.clusterName} readOnly w={240} />
        )}
        <TextInput
          label="Namespace"
          value={namespace}
          onChange={(e) => setNamespace(e.currentTarget.value)}
          readOnly={existing !== null}
          error={existing === null ? namespaceError : undefined}
          w={200}
        />
        <TextInput
          label="Deployment name"
          value={name}
          onChange={(e) => changeName(e.currentTarget.value)}
          readOnly={existing !== null}
          error={existing === null ? nameError : undefined}
          w={220}
        />
      </Group>
      {cluster !== undefined && (
        <Group gap="xs">
          <Text size="sm">Apply capability:</Text>
          <Badge
            color={applyMissing ? 'gray' : 'teal'}
            variant={applyMissing ? 'outline' : 'light'}
            size="sm"
            data-testid="apply-capability"
          >
            {cluster.capabilities === null ? 'unknown' : applyMissing ? 'off' : 'on'}
          </Badge>
        </Group>
      )}
      {applyMissing && cluster !== undefined && (
        <Alert color="yellow" title="This cluster's agent cannot apply manifests yet" data-testid="apply-missing">
          <Stack gap={6}>
            <Text size="sm">
              {cluster.capabilities === null
                ? 'The agent has not reported its capabilities yet (no heartbeat so far).'
                : 'The agent reports the apply capability as disabled.'}{' '}
              Re-run the installer with the apply capability (no new token is needed); the agent reports it with its
              next heartbeat:
            </Text>
            <Code block fz="xs">
              {enableCommand('apply', cluster.capabilities)}
            </Code>
          </Stack>
        </Alert>
      )}

      <Tabs value={tab} onChange={switchTab} keepMounted={false}>
        <Tabs.List aria-label="Source">
          <Tabs.Tab value="builder">Builder</Tabs.Tab>
          <Tabs.Tab value="yaml">YAML</Tabs.Tab>
          <Tabs.Tab value="git">Git</Tabs.Tab>
        </Tabs.List>

        <Tabs.Panel value="builder" pt="md">
          <Grid gap="lg">
            <Grid.Col span={{ base: 12, lg: 7 }}>
              <BuilderForm
                form={form}
                onChange={setForm}
                issues={issues}
                registries={registries.data?.items ?? []}
                disabled={!canWrite}
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, lg: 5 }}>
              <Stack gap="md">
                <LiveFindingsPanel live={live} clusterChosen={cluster !== undefined} />
                <Stack gap="xs" component="section" aria-labelledby="preview-title">
                  <Title order={3} size="h5" id="preview-title">
                    What will be applied
                  </Title>
                  {check.issues.size > 0 && (
                    <Text size="sm" c="red" data-testid="builder-issues">
                      {check.issues.size === 1 ? 'One field needs' : `${check.issues.size} fields need`} attention
                      before this can be applied.
                    </Text>
                  )}
                  <LazyCodeEditor value={builtYaml} readOnly label="Generated manifests" testId="yaml-preview" />
                </Stack>
              </Stack>
            </Grid.Col>
          </Grid>
        </Tabs.Panel>

        <Tabs.Panel value="yaml" pt="md">
          <Stack gap="md">
            <Text size="sm" c="dimmed">
              One or more Kubernetes manifests, separated by <Code>---</Code>. Objects go to the namespace{' '}
              <Code>{namespace}</Code> (or are cluster-scoped). Lines that cannot be read are marked.
            </Text>
            <LazyCodeEditor
              value={yaml}
              onChange={setYaml}
              lint
              label="Manifests (YAML)"
              testId="yaml-editor"
              readOnly={!canWrite}
            />
            <LiveFindingsPanel live={live} clusterChosen={cluster !== undefined} />
          </Stack>
        </Tabs.Panel>

        <Tabs.Panel value="git" pt="md">
          <Stack gap="sm" maw={640}>
            <TextInput
              label="Repository URL"
              description="https:// only; Niro fetches it on every apply"
              value={git.url}
              onChange={(e) => setGit({ ...git, url: e.currentTarget.value })}
              error={gitUrlError ?? serverIssues.get('source.url')}
              disabled={!canWrite}
            />
            <Group gap="sm" wrap="wrap">
              <TextInput
                label="Ref"
                description="Branch, tag or full commit SHA"
                value={git.ref}
                onChange={(e) => setGit({ ...git, ref: e.currentTarget.value })}
                error={git.ref === '' ? 'a branch, tag or commit' : serverIssues.get('source.ref')}
                disabled={!canWrite}
                w={220}
              />
              <TextInput
                label="Path"
                description="Folder in the repository (empty: the root)"
                value={git.path}
                onChange={(e) => setGit({ ...git, path: e.currentTarget.value })}
                error={serverIssues.get('source.path')}
                disabled={!canWrite}
                w={300}
              />
            </Group>
            {source?.type === 'git' && source.hasCredential && (
              <Group gap="xs">
                <Badge color="teal" variant="light" size="sm" data-testid="credential-stored">
                  credential stored
                </Badge>
                <Text size="xs" c="dimmed">
                  Leave the fields below empty to keep it; it is never shown again.
                </Text>
              </Group>
            )}
            <Group gap="sm" wrap="wrap">
              <TextInput
                label="Username (optional)"
                autoComplete="off"
                value={git.username}
                onChange={(e) => setGit({ ...git, username: e.currentTarget.value })}
                disabled={!canWrite}
                w={220}
              />
              <PasswordInput
                label="Password or token (optional)"
                autoComplete="new-password"
                value={git.password}
                onChange={(e) => setGit({ ...git, password: e.currentTarget.value })}
                disabled={!canWrite}
                w={300}
              />
            </Group>
            <Text size="xs" c="dimmed">
              A private repository needs both. They are stored encrypted and never shown again. Policy findings of a Git
              source are computed when Niro fetches it and shown on the revision.
            </Text>
          </Stack>
        </Tabs.Panel>
      </Tabs>

      {error !== null && (
        <Alert color="red" title="Not applied" role="alert" data-testid="editor-error">
          <Stack gap={4}>
            <Text size="sm">{error.message}</Text>
            {error.fields.length > 0 && (
              <Stack gap={0} component="ul" style={{ margin: 0, paddingLeft: 18 }}>
                {error.fields.map((f) => (
                  <Text key={`${f.field}:${f.message}`} size="sm" component="li">
                    <Code>{f.field}</Code> {f.message}
                  </Text>
                ))}
              </Stack>
            )}
          </Stack>
        </Alert>
      )}
      <Group>
        <Button type="submit" loading={submitting} disabled={!ready || !canWrite} data-testid="submit-deployment">
          {existing === null ? 'Create and apply' : 'Save and apply'}
        </Button>
        {!ready && (
          <Text size="sm" c="dimmed">
            {existing === null && cluster === undefined
              ? 'Choose a cluster.'
              : tab === 'yaml' && yaml.trim() === ''
                ? 'Paste or write the manifests.'
                : 'Fix the fields marked above.'}
          </Text>
        )}
      </Group>
    </Stack>
  );
}
