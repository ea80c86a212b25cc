/** Keys used in delta `remove` lists: "name", "ns/name", "Kind/ns/name". */
export const podKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;
export const workloadKey = (w: { kind: string; namespace: string; name: string }): string =>
  `${w.kind}/${w.namespace}/${w.name}`;
