import { COMMAND_LIMITS } from '@niro/protocol/commands';
import type * as Yaml from 'yaml';
import type { Document, LineCounter, Tags } from 'yaml';
import { isRecord } from '../kube/kube-object.js';

/** One Kubernetes object from a manifest set, checked for the fields every object needs. */
export type ManifestObject = {
  /** 1-based position of the YAML document it came from. */
  document: number;
  /** 1-based line where the object starts. */
  line: number;
  apiVersion: string;
  kind: string;
  name: string;
  /** As written; a namespaced kind without one gets the payload's namespace later. */
  namespace: string | undefined;
  body: Record<string, unknown>;
};

/** A problem in the input; `document` and `line` are absent when it concerns the whole input. */
export type ManifestError = { document?: number; line?: number; message: string };

export type ParsedManifests = { objects: ManifestObject[]; errors: ManifestError[] };

export type ManifestLimits = { bytes: number; documents: number; aliases: number };

export const DEFAULT_MANIFEST_LIMITS: ManifestLimits = {
  bytes: COMMAND_LIMITS.manifestBytes,
  documents: COMMAND_LIMITS.manifestDocuments,
  aliases: COMMAND_LIMITS.yamlAliases,
};

type YamlModule = typeof Yaml;

/** Loaded on first use: an agent that never applies anything does not pay for the parser's memory. */
let yamlModule: Promise<YamlModule> | undefined;
const loadYaml = (): Promise<YamlModule> => (yamlModule ??= import('yaml'));

/**
 * kubectl reads manifests as YAML 1.1 (octal `0644` modes, `yes`/`on` booleans, `<<` merges) but
 * keeps timestamps and sexagesimal numbers as strings; the same here, or `defaultMode: 0644`
 * would reach the API as 644.
 */
const kubectlTags = (tags: Tags): Tags =>
  tags.filter((tag) =>
    typeof tag === 'string'
      ? !['timestamp', 'intTime', 'floatTime'].includes(tag)
      : tag.tag !== 'tag:yaml.org,2002:timestamp' && tag.format !== 'TIME',
  );

/**
 * Parses multi-document YAML (JSON is YAML) into objects. Never throws for bad input: every
 * problem is an error naming its document and line. Empty documents are skipped and `kind: List`
 * is unpacked into its items. Aliases are limited so that a YAML bomb is refused instead of
 * expanded.
 */
export async function parseManifests(
  text: string,
  limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS,
): Promise<ParsedManifests> {
  const bytes = Buffer.byteLength(text);
  if (bytes > limits.bytes) {
    return { objects: [], errors: [{ message: `the manifests are ${bytes} bytes; the limit is ${limits.bytes}` }] };
  }
  const yaml = await loadYaml();
  const lines = new yaml.LineCounter();
  const documents = yaml.parseAllDocuments(text, { version: '1.1', customTags: kubectlTags, lineCounter: lines });
  if (documents.length > limits.documents) {
    return {
      objects: [],
      errors: [{ message: `the manifests hold ${documents.length} documents; the limit is ${limits.documents}` }],
    };
  }
  const result: ParsedManifests = { objects: [], errors: [] };
  let expandedBytes = 0;
  documents.forEach((doc, index) => {
    const number = index + 1;
    const fail = (message: string, line = startLine(doc, lines)): void => {
      result.errors.push({ document: number, line, message });
    };
    if (doc.errors.length > 0) {
      for (const err of doc.errors) fail(yamlErrorText(err.message), err.linePos?.[0].line ?? startLine(doc, lines));
      return;
    }
    let aliases = 0;
    yaml.visit(doc, { Alias: () => void (aliases += 1) });
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
          : `cannot read the document: ${err instanceof Error ? err.message : String(err)}`,
      );
      return;
    }
    if (value === null || value === undefined) return;
    // Aliases may enlarge a document, but never the whole set past twice the input limit.
    expandedBytes += Buffer.byteLength(JSON.stringify(value) ?? '');
    if (expandedBytes > 2 * limits.bytes) {
      fail(`the documents expand to more than ${2 * limits.bytes} bytes of JSON`);
      return;
    }
    collect(value, number, startLine(doc, lines), result);
  });
  if (result.errors.length > 0) result.objects = [];
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

function collect(value: unknown, document: number, line: number, result: ParsedManifests): void {
  if (isRecord(value) && value.kind === 'List' && Array.isArray(value.items)) {
    value.items.forEach((item, i) => {
      const checked = checkObject(item, document, line);
      if (typeof checked === 'string') result.errors.push({ document, line, message: `items[${i}]: ${checked}` });
      else result.objects.push(checked);
    });
    return;
  }
  const checked = checkObject(value, document, line);
  if (typeof checked === 'string') result.errors.push({ document, line, message: checked });
  else result.objects.push(checked);
}

/** The object, or what is wrong with it. */
function checkObject(value: unknown, document: number, line: number): ManifestObject | string {
  if (!isRecord(value)) {
    return `a document must be a Kubernetes object (a mapping), not ${Array.isArray(value) ? 'a list' : typeof value}`;
  }
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '') return 'apiVersion is missing';
  if (typeof kind !== 'string' || kind === '') return 'kind is missing';
  if (!isRecord(metadata)) return `${kind}: metadata is missing`;
  const { name, namespace } = metadata;
  if (typeof name !== 'string' || name === '') return `${kind}: metadata.name is missing`;
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
    return `${kind} ${name}: metadata.namespace must be a string`;
  }
  return {
    document,
    line,
    apiVersion,
    kind,
    name,
    namespace: typeof namespace === 'string' && namespace !== '' ? namespace : undefined,
    body: value,
  };
}

function startLine(doc: Document.Parsed, lines: LineCounter): number {
  const contents = doc.contents;
  const offset = contents?.range[0] ?? doc.range[0];
  return lines.linePos(offset).line;
}

/** yaml's messages end with the position and a copy of the source; the line is reported apart. */
function yamlErrorText(message: string): string {
  const first = message.split('\n', 1)[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, '');
}
