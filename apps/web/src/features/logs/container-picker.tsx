import { useMemo, useState } from 'react';
import { Select, TextInput } from '@mantine/core';
import { ClusterPodDetail } from '@niro/protocol';
import { useApi } from '../../lib/use-api.js';

type Group = { group: string; items: string[] };

/**
 * The chosen pod's containers (init containers too), from the pod as the agent last reported it.
 * Nothing chosen reads the pod's default container, as `kubectl logs` does. When the pod's
 * containers cannot be read (a pod newer than the last heartbeat), a text box takes the name.
 */
export function ContainerPicker({
  clusterId,
  pod,
  value,
  onChange,
}: {
  clusterId: string;
  pod: { namespace: string; pod: string } | null;
  value: string | null;
  onChange: (value: string | null) => void;
}) {
  const seg = encodeURIComponent;
  const path = pod === null ? null : `/clusters/${seg(clusterId)}/pods/${seg(pod.namespace)}/${seg(pod.pod)}`;
  const { data, error, loading } = useApi(path, ClusterPodDetail);
  // A reply for the pod chosen before is not this pod's.
  const detail =
    data !== null && pod !== null && data.pod.namespace === pod.namespace && data.pod.name === pod.pod ? data : null;

  const groups = useMemo<Group[]>(() => {
    const main = detail?.pod.containers.map((c) => c.name) ?? [];
    const init = detail?.pod.initContainers?.map((c) => c.name) ?? [];
    const out: Group[] = [];
    if (main.length > 0) out.push({ group: 'Containers', items: main });
    if (init.length > 0) out.push({ group: 'Init containers', items: init });
    // A container named in the address stays selected, known or not.
    if (value !== null && !main.includes(value) && !init.includes(value)) {
      out.push({ group: 'From the address', items: [value] });
    }
    return out;
  }, [detail, value]);

  if (pod !== null && error !== null && detail === null && !loading) {
    return (
      <ContainerInput
        key={`${pod.namespace}/${pod.pod}/${value ?? ''}`}
        value={value ?? ''}
        description={`Containers unknown: ${error}`}
        onCommit={(v) => onChange(v.trim() === '' ? null : v.trim())}
      />
    );
  }

  const only = detail !== null && detail.pod.containers.length === 1 ? detail.pod.containers[0]?.name : undefined;
  const placeholder =
    pod === null
      ? 'Choose a pod first'
      : detail === null
        ? loading
          ? 'Loading containers…'
          : 'Default container'
        : only !== undefined
          ? `${only} (the only one)`
          : 'Default container';
  return (
    <Select
      label="Container"
      placeholder={placeholder}
      data={groups}
      value={value}
      onChange={onChange}
      disabled={pod === null}
      clearable
      searchable={groups.reduce((n, g) => n + g.items.length, 0) > 8}
      nothingFoundMessage="No container with that name"
      miw={220}
      data-testid="log-container-select"
    />
  );
}

/** The container box commits on Enter or when it loses focus: each change starts a new stream. */
function ContainerInput({
  value,
  description,
  onCommit,
}: {
  value: string;
  description: string;
  onCommit: (value: string) => void;
}) {
  const [draft, setDraft] = useState(value);
  const commit = (): void => {
    if (draft.trim() !== value) onCommit(draft);
  };
  return (
    <TextInput
      label="Container"
      placeholder="the pod's default container"
      description={description}
      value={draft}
      onChange={(e) => setDraft(e.currentTarget.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === 'Enter') commit();
      }}
    />
  );
}
