import { isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Document, type Tags } from 'yaml';
import type { KubeObject } from './types.js';
import { isRecord } from './workloads.js';

/** A Kubernetes object from a manifest set, with where it was written. */
export type ParsedObject = KubeObject & {
  /** 1-based position of the YAML document it came from. */
  document: number;
  /** 1-based line where the object starts. */
  line: number;
};

/** A problem in the input; `document` and `line` are absent when it concerns the whole input. */
export type ManifestError = { document?: number; line?: number; message: string };

export type ParsedManifests = { objects: ParsedObject[]; errors: ManifestError[] };

export type ManifestLimits = {
  /** UTF-8 bytes of the whole input. */
  bytes: number;
  documents: number;
  /** Alias nodes per document, and alias resolutions while expanding one. */
  aliases: number;
};

export const MANIFEST_LIMITS: ManifestLimits = { bytes: 2 * 1024 * 1024, documents: 500, aliases: 100 };

/**
 * kubectl reads manifests as YAML 1.1 (octal `0644` modes, `yes`/`on` booleans, `<<` merges) but
 * keeps timestamps and sexagesimal numbers as strings; the same here, or `defaultMode: 0644`
 * would be read as 644.
 */
const kubectlTags = (tags: Tags): Tags =>
  tags.filter((tag) =>
    typeof tag === 'string'
      ? !['timestamp', 'intTime', 'floatTime'].includes(tag)
      : tag.tag !== 'tag:yaml.org,2002:timestamp' && tag.format !== 'TIME',
  );

/**
 * Parses multi-document YAML or JSON into Kubernetes objects. Never throws: every problem is an
 * error naming its document and line, and the objects of the other documents are still returned.
 * Empty documents are skipped and `kind: List` is unpacked. Aliases are limited so that a YAML
 * bomb is refused instead of expanded. Objects of any kind are accepted; only apiVersion, kind
 * and metadata.name are required.
 */
export function parseManifests(text: string, limits: ManifestLimits = MANIFEST_LIMITS): ParsedManifests {
  // Every UTF-16 unit is at least one UTF-8 byte: a longer string need not be measured.
  const bytes = text.length > limits.bytes ? text.length : utf8Length(text);
  if (bytes > limits.bytes) {
    return {
      objects: [],
      errors: [
        {
          message: `the manifests are ${text.length > limits.bytes ? 'more than ' : ''}${bytes} bytes; the limit is ${limits.bytes}`,
        },
      ],
    };
  }
  const result: ParsedManifests = { objects: [], errors: [] };
  const lines = new LineCounter();
  let documents: Document.Parsed[];
  try {
    const parsed = parseAllDocuments(text, {
      version: '1.1',
      customTags: kubectlTags,
      lineCounter: lines,
      prettyErrors: false,
    });
    documents = Array.isArray(parsed) ? parsed : [];
  } catch (err) {
    return { objects: [], errors: [{ message: `cannot read the manifests: ${errorText(err)}` }] };
  }
  // Empty documents (a trailing `---`) do not count.
  const count = documents.filter((doc) => doc.errors.length > 0 || !isEmpty(doc)).length;
  if (count > limits.documents) {
    return {
      objects: [],
      errors: [{ message: `the manifests hold ${count} documents; the limit is ${limits.documents}` }],
    };
  }
  let expandedBytes = 0;
  documents.forEach((doc, index) => {
    const document = index + 1;
    const line = startLine(doc, lines);
    const fail = (message: string, at = line): void => void result.errors.push({ document, line: at, message });
    if (doc.errors.length > 0) {
      for (const err of doc.errors) fail(yamlErrorText(err.message), lineOf(err.pos[0], lines) ?? line);
      return;
    }
    let aliases = 0;
    visit(doc, { Alias: () => void (aliases += 1) });
    if (aliases > limits.aliases) {
      fail(`${aliases} YAML aliases; more than ${limits.aliases} are refused as a possible YAML bomb`);
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: limits.aliases });
    } catch (err) {
      // yaml throws a ReferenceError when aliases would expand the document exponentially.
      fail(
        err instanceof ReferenceError
          ? 'refused: its aliases would expand it exponentially (a YAML bomb)'
          : `cannot read the document: ${errorText(err)}`,
      );
      return;
    }
    if (value === null || value === undefined) return;
    if (aliases > 0) {
      // Aliases may enlarge a document, but never the whole set past twice the input limit.
      expandedBytes += jsonLength(value);
      if (expandedBytes > 2 * limits.bytes) {
        fail(`its aliases expand the manifests to more than ${2 * limits.bytes} bytes`);
        return;
      }
    }
    collect(value, doc, document, line, lines, result);
  });
  return result;
}

/** "document 3, line 12: metadata.name is missing". */
export function manifestErrorText(error: ManifestError): string {
  const where = [
    error.document === undefined ? '' : `document ${error.document}`,
    error.line === undefined ? '' : `line ${error.line}`,
  ]
    .filter((part) => part !== '')
    .join(', ');
  return where === '' ? error.message : `${where}: ${error.message}`;
}

function collect(
  value: unknown,
  doc: Document.Parsed,
  document: number,
  line: number,
  lines: LineCounter,
  result: ParsedManifests,
): void {
  if (isRecord(value) && value.kind === 'List' && Array.isArray(value.items)) {
    const itemsNode = isMap(doc.contents) ? doc.contents.get('items', true) : undefined;
    value.items.forEach((item: unknown, i) => {
      const node: unknown = isSeq(itemsNode) ? itemsNode.items[i] : undefined;
      const at = (isNode(node) && node.range ? lineOf(node.range[0], lines) : undefined) ?? line;
      const checked = checkObject(item, document, at);
      if (typeof checked === 'string') result.errors.push({ document, line: at, message: `items[${i}]: ${checked}` });
      else result.objects.push(checked);
    });
    return;
  }
  const checked = checkObject(value, document, line);
  if (typeof checked === 'string') result.errors.push({ document, line, message: checked });
  else result.objects.push(checked);
}

/** The object, or what is wrong with it. */
function checkObject(value: unknown, document: number, line: number): ParsedObject | string {
  if (!isRecord(value)) {
    const what = Array.isArray(value) ? 'a list' : typeof value;
    return `a document must be a Kubernetes object (a mapping), not ${what}`;
  }
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    return isRecord(value.spec) && Array.isArray(value.spec.containers)
      ? 'apiVersion and kind are missing: a bare pod template is not an object; give it a kind (e.g. Pod)'
      : 'apiVersion is missing';
  }
  if (typeof kind !== 'string' || kind === '') return 'kind is missing';
  if (!isRecord(metadata)) return `${kind}: metadata is missing`;
  const { name, namespace, labels, annotations } = metadata;
  if (typeof name !== 'string' || name === '') return `${kind}: metadata.name is missing`;
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
    return `${kind} ${name}: metadata.namespace must be a string`;
  }
  for (const [field, map] of [
    ['labels', labels],
    ['annotations', annotations],
  ] as const) {
    if (map === undefined || map === null) continue;
    if (!isRecord(map)) return `${kind} ${name}: metadata.${field} must be a mapping`;
    for (const [key, entry] of Object.entries(map)) {
      if (typeof entry !== 'string') {
        return `${kind} ${name}: metadata.${field}.${key} must be a string (quote it)`;
      }
    }
  }
  const meta: KubeObject['metadata'] = { ...metadata, name };
  if (typeof namespace === 'string' && namespace !== '') meta.namespace = namespace;
  else delete meta.namespace;
  if (isRecord(labels)) meta.labels = stringEntries(labels);
  else delete meta.labels;
  if (isRecord(annotations)) meta.annotations = stringEntries(annotations);
  else delete meta.annotations;
  return { ...value, apiVersion, kind, metadata: meta, document, line };
}

function stringEntries(map: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(map)) if (typeof entry === 'string') out[key] = entry;
  return out;
}

function isEmpty(doc: Document.Parsed): boolean {
  return doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
}

function startLine(doc: Document.Parsed, lines: LineCounter): number {
  const offset = doc.contents?.range[0] ?? doc.range[0];
  return lines.linePos(offset).line;
}

function lineOf(offset: number | undefined, lines: LineCounter): number | undefined {
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

/** yaml's messages end with the position; the line is reported apart. */
function yamlErrorText(message: string): string {
  const first = message.split('\n', 1)[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, '');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** UTF-8 bytes of a string, counted without encoding it (no Buffer or TextEncoder here). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

function jsonLength(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
