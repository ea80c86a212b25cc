import { SegmentedControl, Stack, Text } from '@mantine/core';

/** A segmented control with a visible label above it, as a filter row's fields have. */
export function LabelledSegments({
  id,
  label,
  value,
  onChange,
  data,
}: {
  /** The label's element id (the control is named by it). */
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  data: { value: string; label: string }[];
}) {
  return (
    <Stack gap={4}>
      <Text size="sm" fw={500} id={id}>
        {label}
      </Text>
      <SegmentedControl aria-labelledby={id} size="sm" value={value} onChange={onChange} data={data} />
    </Stack>
  );
}
