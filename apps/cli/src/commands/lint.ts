import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  ENVIRONMENTS,
  RULES,
  SEVERITIES,
  evaluate,
  parseManifests,
  relatedObjects,
  severityFor,
  type Environment,
  type Finding,
  type KubeObject,
  type Rule,
  type Severity,
} from '@niro/policy';
import { Option, type Command } from 'commander';
import { isMap, parseAllDocuments, parse as parseYaml } from 'yaml';
import type { GlobalOptions } from '../api.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { count } from '../format.js';

export const LINT_FORMATS = ['text', 'json', 'sarif'] as const;
type LintFormat = (typeof LINT_FORMATS)[number];

/** Manifests bigger than this are refused rather than read into memory. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;
const MANIFEST_FILE = /\.(ya?ml|json)$/i;
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const STDIN_NAME = '<stdin>';

type LintOptions = GlobalOptions & {
  environment: Environment;
  format?: LintFormat;
  failOn: Severity;
  suppress?: string[];
};

/** A manifest to lint: `file` is the name shown to the user (relative to the working directory). */
type Source = { file: string; text: string };

/** Input that could not be read or parsed; any of these makes the exit code 2. */
export type LintError = { file: string; line?: number; document?: number; message: string };

export type LintFinding = Finding & { file: string; line?: number };

/** `--suppress RULE` (every object) or `--suppress RULE:KIND/NAMESPACE/NAME` (`KIND/NAME` for cluster-scoped objects). */
export type CliSuppression = { ruleId: string; kind?: string; namespace?: string; name?: string };

export type LintReport = {
  environment: Environment;
  findings: LintFinding[];
  errors: LintError[];
  /** Objects and files read (objects that parsed). */
  objects: number;
  files: number;
  suppressed: number;
};

const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);

export function parseSuppression(raw: string): CliSuppression {
  const colon = raw.indexOf(':');
  const ruleId = colon < 0 ? raw : raw.slice(0, colon);
  if (!RULES.some((r) => r.id === ruleId)) {
    throw new UsageError(`--suppress ${raw}: no rule "${ruleId}" (see \`niro lint --help\` or docs/policy.md)`);
  }
  if (colon < 0) return { ruleId };
  const parts = raw.slice(colon + 1).split('/');
  const [kind, a, b] = parts;
  if (parts.some((p) => p === '') || kind === undefined || a === undefined || parts.length > 3) {
    throw new UsageError(`--suppress ${raw}: use RULE, RULE:KIND/NAMESPACE/NAME or RULE:KIND/NAME`);
  }
  return b === undefined ? { ruleId, kind, name: a } : { ruleId, kind, namespace: a, name: b };
}

function suppresses(s: CliSuppression, f: Finding): boolean {
  if (s.ruleId !== f.ruleId) return false;
  if (s.kind === undefined) return true;
  return (
    s.kind.toLowerCase() === f.object.kind.toLowerCase() &&
    s.name === f.object.name &&
    (s.namespace ?? 'default') === (f.object.namespace ?? 'default')
  );
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errnoCode(err: unknown): string | undefined {
  return isRecord(err) && typeof err.code === 'string' ? err.code : undefined;
}

function describeReadError(err: unknown): string {
  const code = errnoCode(err);
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}

/**
 * Whether a file found in a directory is meant for Kubernetes: some document is a mapping with
 * `apiVersion` or `kind`. Helm values, CI configs and package.json files beside manifests are
 * skipped instead of failing the run; invalid YAML counts as meant, so its errors are reported.
 */
function holdsKubernetesObjects(text: string): boolean {
  let documents;
  try {
    documents = parseAllDocuments(text);
  } catch {
    return true;
  }
  if (!Array.isArray(documents)) return false;
  return documents.some(
    (doc) =>
      doc.errors.length > 0 ||
      (isMap(doc.contents) &&
        (doc.contents.has('apiVersion') || doc.contents.has('kind') || doc.contents.has('items'))),
  );
}

/** Reads every FILE, DIR and `-` argument into sources, in argument order, each file once. */
class InputCollector {
  readonly sources: Source[] = [];
  readonly errors: LintError[] = [];
  readonly notes: string[] = [];
  private readonly seenFiles = new Set<string>();
  private readonly seenDirs = new Set<string>();

  constructor(private readonly ctx: CliContext) {}

  display(abs: string): string {
    const rel = path.relative(this.ctx.cwd, abs);
    return rel === '' ? '.' : rel;
  }

  async add(arg: string): Promise<void> {
    if (arg === '-') {
      if (this.seenFiles.has(STDIN_NAME)) return;
      this.seenFiles.add(STDIN_NAME);
      this.sources.push({ file: STDIN_NAME, text: await this.ctx.out.readStdin() });
      return;
    }
    const abs = path.resolve(this.ctx.cwd, arg);
    let info;
    try {
      info = await stat(abs);
    } catch (err) {
      this.errors.push({ file: arg, message: describeReadError(err) });
      return;
    }
    if (info.isDirectory()) await this.addDirectory(abs);
    else await this.addFile(abs, info.size);
  }

  /** `found`: met while walking a directory rather than named by the user or a kustomization. */
  private async addFile(abs: string, size?: number, found = false): Promise<void> {
    const file = this.display(abs);
    let key = abs;
    try {
      key = await realpath(abs);
      const bytes = size ?? (await stat(abs)).size;
      if (bytes > MAX_FILE_BYTES) {
        this.errors.push({ file, message: `larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB; not read` });
        return;
      }
      if (this.seenFiles.has(key)) return;
      this.seenFiles.add(key);
      const text = await readFile(abs, 'utf8');
      if (found && !holdsKubernetesObjects(text)) {
        this.notes.push(`${file}: skipped, not Kubernetes manifests (no apiVersion or kind)`);
        return;
      }
      this.sources.push({ file, text });
    } catch (err) {
      this.errors.push({ file, message: describeReadError(err) });
    }
  }

  private async addDirectory(abs: string): Promise<void> {
    let key: string;
    try {
      key = await realpath(abs);
    } catch (err) {
      this.errors.push({ file: this.display(abs), message: describeReadError(err) });
      return;
    }
    // Symbolic links can make a directory its own descendant.
    if (this.seenDirs.has(key)) return;
    this.seenDirs.add(key);
    let names: string[];
    try {
      names = (await readdir(abs)).sort();
    } catch (err) {
      this.errors.push({ file: this.display(abs), message: describeReadError(err) });
      return;
    }
    if (names.includes('Chart.yaml')) {
      const dir = this.display(abs);
      this.notes.push(`${dir}: skipped, a Helm chart (lint what it renders: helm template ${dir} | niro lint -)`);
      return;
    }
    const kustomization = KUSTOMIZATION_FILES.find((k) => names.includes(k));
    if (kustomization !== undefined) {
      await this.addKustomization(abs, kustomization);
      return;
    }
    for (const name of names) {
      if (name.startsWith('.') || name === 'node_modules') continue;
      const child = path.join(abs, name);
      let info;
      try {
        info = await stat(child);
      } catch {
        continue; // a dangling symbolic link inside a directory is not an input anyone named
      }
      if (info.isDirectory()) await this.addDirectory(child);
      else if (info.isFile() && MANIFEST_FILE.test(name)) await this.addFile(child, info.size, true);
    }
  }

  /**
   * A kustomization lists its resources: lint those (files, and directories recursively) rather
   * than every YAML file beside it, which would include patches and the kustomization itself.
   * Patches, generators and remote bases are not applied: `kustomize build DIR | niro lint -` does.
   */
  private async addKustomization(dir: string, name: string): Promise<void> {
    const file = this.display(path.join(dir, name));
    let doc: unknown;
    try {
      doc = parseYaml(await readFile(path.join(dir, name), 'utf8'));
    } catch (err) {
      this.errors.push({ file, message: `invalid kustomization: ${describeReadError(err)}` });
      return;
    }
    const entries: unknown[] = [];
    if (isRecord(doc)) {
      for (const field of ['resources', 'bases', 'components']) {
        const list = doc[field];
        if (Array.isArray(list)) entries.push(...(list as unknown[]));
      }
    }
    this.notes.push(`${file}: linting its ${count(entries.length, 'listed resource')}, without patches`);
    for (const entry of entries) {
      if (typeof entry !== 'string') continue;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry) || /^(github\.com|gitlab\.com|bitbucket\.org)\//.test(entry)) {
        this.notes.push(`${file}: skipped remote resource ${entry}`);
        continue;
      }
      await this.add(path.join(dir, entry));
    }
  }
}

type Located = { object: KubeObject; file: string; line?: number };

/** kubectl's identity of an object: an object without a namespace lands in `default`. */
function objectKey(ref: { kind: string; namespace?: string; name: string }): string {
  return `${ref.kind}\0${ref.namespace ?? 'default'}\0${ref.name}`;
}

/**
 * Parses every source and evaluates all their objects as one manifest set, the way
 * `kubectl apply -f DIR -R` sees them: a PodDisruptionBudget, Service or NetworkPolicy in one
 * file counts for the workloads of another. Findings name objects, not places, so each is traced
 * back to its file and line by the object's identity; when several files hold the same object
 * (a base and an overlay), the copies are evaluated in separate rounds so no finding is lost or
 * attributed to the wrong copy.
 */
export function lintSources(
  sources: readonly Source[],
  environment: Environment,
  suppressions: readonly CliSuppression[],
): { findings: LintFinding[]; errors: LintError[]; objects: number; suppressed: number } {
  const errors: LintError[] = [];
  const located: Located[] = [];
  for (const source of sources) {
    const result = parseManifests(source.text);
    for (const e of result.errors) {
      errors.push({
        file: source.file,
        ...(e.line === undefined ? {} : { line: e.line }),
        ...(e.document === undefined ? {} : { document: e.document }),
        message: e.message,
      });
    }
    for (const object of result.objects) located.push({ object, file: source.file, line: object.line });
  }
  // Round i holds the i-th copy of every object.
  const rounds: Map<string, Located>[] = [];
  for (const item of located) {
    const key = objectKey({ ...item.object.metadata, kind: item.object.kind });
    let round = rounds.find((r) => !r.has(key));
    if (round === undefined) {
      round = new Map();
      rounds.push(round);
    }
    round.set(key, item);
  }
  const related = relatedObjects(
    located.map((l) => l.object),
    false,
  );
  const findings: LintFinding[] = [];
  let suppressed = 0;
  for (const round of rounds) {
    const roundFindings = evaluate(
      [...round.values()].map((l) => l.object),
      {
        environment,
        related,
        // A rule that throws leaves its findings on that object missing: the run is incomplete.
        onRuleFailure(failure) {
          const at = round.get(objectKey(failure.object));
          errors.push({
            file: at?.file ?? STDIN_NAME,
            ...(at?.line === undefined ? {} : { line: at.line }),
            message: `rule ${failure.ruleId} failed on ${failure.object.kind} ${failure.object.name}: ${failure.message}`,
          });
        },
      },
    );
    for (const f of roundFindings) {
      if (suppressions.some((s) => suppresses(s, f))) {
        suppressed++;
        continue;
      }
      const at = round.get(objectKey(f.object));
      findings.push({
        ...f,
        file: at?.file ?? sources[0]?.file ?? STDIN_NAME,
        ...(at?.line === undefined ? {} : { line: at.line }),
      });
    }
  }
  const order = new Map(sources.map((s, i) => [s.file, i]));
  findings.sort(
    (a, b) =>
      (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      severityRank(b.severity) - severityRank(a.severity) ||
      a.ruleId.localeCompare(b.ruleId) ||
      (a.path ?? '').localeCompare(b.path ?? ''),
  );
  return { findings, errors, objects: located.length, suppressed };
}

/** "3 high, 2 medium in 4 objects of 2 files". */
export function summaryLine(report: LintReport): string {
  const counts = [...SEVERITIES]
    .reverse()
    .map((s) => [s, report.findings.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const suppressed = report.suppressed > 0 ? `, ${report.suppressed} suppressed` : '';
  const unreadable = report.errors.length > 0 ? `, ${count(report.errors.length, 'error')} in the input` : '';
  const checked = `${count(report.objects, 'object')} in ${count(report.files, 'file')}`;
  if (counts.length === 0) return `No findings in ${checked} (${report.environment}${suppressed}${unreadable}).`;
  const objects = new Set(report.findings.map((f) => `${f.file}\0${f.line ?? ''}\0${objectName(f)}`)).size;
  const files = new Set(report.findings.map((f) => f.file)).size;
  return `${counts.join(', ')} in ${count(objects, 'object')} of ${count(files, 'file')} (${checked} checked, ${report.environment}${suppressed}${unreadable}).`;
}

function objectName(f: Finding): string {
  return `${f.object.kind} ${f.object.namespace === undefined ? '' : `${f.object.namespace}/`}${f.object.name}`;
}

function location(file: string, line: number | undefined, document?: number): string {
  if (line !== undefined) return `${file}:${line}`;
  return document === undefined ? file : `${file} (document ${document})`;
}

type Paint = (severity: Severity | 'bold' | 'dim', text: string) => string;

const ANSI: Record<Severity | 'bold' | 'dim', string> = {
  high: '\x1b[1;31m',
  medium: '\x1b[33m',
  low: '\x1b[36m',
  info: '\x1b[2m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
};

function painter(ctx: CliContext): Paint {
  const color = ctx.out.streams.stdout.isTTY === true && (ctx.env.NO_COLOR ?? '') === '' && ctx.env.TERM !== 'dumb';
  return color ? (style, text) => `${ANSI[style]}${text}\x1b[0m` : (_style, text) => text;
}

function printText(ctx: CliContext, report: LintReport): void {
  const paint = painter(ctx);
  const width = Math.max(0, ...report.findings.map((f) => f.ruleId.length));
  let lastFile: string | undefined;
  let lastObject: string | undefined;
  for (const f of report.findings) {
    if (f.file !== lastFile && lastFile !== undefined) ctx.out.line();
    const objectKey = `${f.file}\0${f.line ?? ''}\0${objectName(f)}`;
    if (objectKey !== lastObject) {
      ctx.out.line(paint('bold', `${location(f.file, f.line)}  ${objectName(f)}`));
    }
    lastFile = f.file;
    lastObject = objectKey;
    const where = f.path ?? (f.container === undefined ? undefined : `container ${f.container}`);
    ctx.out.line(`  ${paint(f.severity, f.severity.padEnd(6))}  ${f.ruleId.padEnd(width)}  ${f.message}`);
    const indent = ' '.repeat(12 + width);
    if (where !== undefined) ctx.out.line(paint('dim', `${indent}at ${where}`));
    if (f.fix !== undefined) ctx.out.line(paint('dim', `${indent}fix: ${f.fix}`));
  }
  if (report.findings.length > 0) ctx.out.line();
  ctx.out.line(summaryLine(report));
}

const SARIF_LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  high: 'error',
  medium: 'warning',
  low: 'note',
  info: 'note',
};

/** GitHub code scanning ranks security alerts by this CVSS-like score. */
const SECURITY_SEVERITY: Record<Severity, string> = { high: '8.0', medium: '5.5', low: '3.0', info: '1.0' };

function sarifUri(file: string): string {
  return file === STDIN_NAME ? 'stdin' : encodeURI(file.split(path.sep).join('/'));
}

function sarifRule(rule: Rule, environment: Environment): Record<string, unknown> {
  const severity = severityFor(rule.severity, environment);
  return {
    id: rule.id,
    name: rule.id
      .split('-')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join(''),
    shortDescription: { text: rule.title },
    fullDescription: { text: rule.description },
    help: { text: rule.fix, markdown: `**How to fix:** ${rule.fix}` },
    defaultConfiguration: { level: SARIF_LEVEL[severity] },
    properties: {
      category: rule.category,
      tags: ['kubernetes', rule.category, ...(rule.category === 'security' ? ['security'] : [])].filter(
        (t, i, all) => all.indexOf(t) === i,
      ),
      ...(rule.category === 'security' ? { 'security-severity': SECURITY_SEVERITY[severity] } : {}),
    },
  };
}

/** SARIF 2.1.0 as GitHub code scanning reads it (one run, every rule of the catalogue). */
export function toSarif(report: LintReport, version: string): Record<string, unknown> {
  const index = new Map(RULES.map((r, i) => [r.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'niro',
            version,
            semanticVersion: version,
            informationUri: 'https://github.com/niro-dev/niro/blob/main/docs/policy.md',
            rules: RULES.map((r) => sarifRule(r, report.environment)),
          },
        },
        invocations: [
          {
            executionSuccessful: report.errors.length === 0,
            toolExecutionNotifications: report.errors.map((e) => ({
              level: 'error',
              message: { text: e.message },
              locations: [
                {
                  physicalLocation: {
                    artifactLocation: { uri: sarifUri(e.file) },
                    ...(e.line === undefined ? {} : { region: { startLine: e.line } }),
                  },
                },
              ],
            })),
          },
        ],
        results: report.findings.map((f) => ({
          ruleId: f.ruleId,
          ...(index.has(f.ruleId) ? { ruleIndex: index.get(f.ruleId) } : {}),
          level: SARIF_LEVEL[f.severity],
          message: {
            text: `${objectName(f)}: ${f.message.replace(/\.$/, '')}${f.path === undefined ? '' : ` (${f.path})`}.${f.fix === undefined ? '' : ` Fix: ${f.fix}`}`,
          },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: sarifUri(f.file) },
                region: { startLine: f.line ?? 1 },
              },
              logicalLocations: [
                {
                  name: f.object.name,
                  fullyQualifiedName: `${f.object.kind}/${f.object.namespace === undefined ? '' : `${f.object.namespace}/`}${f.object.name}${f.path === undefined ? '' : `#${f.path}`}`,
                  kind: 'object',
                },
              ],
            },
          ],
          properties: { severity: f.severity, category: f.category, object: f.object },
        })),
        columnKind: 'unicodeCodePoints',
      },
    ],
  };
}

export async function runLint(
  ctx: CliContext,
  inputs: readonly string[],
  opts: { environment: Environment; format: LintFormat; failOn: Severity; suppress: readonly string[] },
  version: string,
): Promise<number> {
  const suppressions = opts.suppress.map(parseSuppression);
  const collector = new InputCollector(ctx);
  for (const input of inputs) await collector.add(input);
  const linted = lintSources(collector.sources, opts.environment, suppressions);
  const report: LintReport = {
    environment: opts.environment,
    findings: linted.findings,
    errors: [...collector.errors, ...linted.errors],
    objects: linted.objects,
    files: collector.sources.length,
    suppressed: linted.suppressed,
  };
  if (opts.format === 'json') {
    ctx.out.json({
      environment: report.environment,
      findings: report.findings,
      errors: report.errors,
      summary: summaryLine(report),
    });
  } else if (opts.format === 'sarif') {
    ctx.out.json(toSarif(report, version));
  } else {
    printText(ctx, report);
  }
  for (const note of collector.notes) ctx.out.info(note);
  for (const e of report.errors) ctx.out.error(`${location(e.file, e.line, e.document)}: ${e.message}`);
  if (opts.format !== 'text') ctx.out.info(summaryLine(report));
  if (report.errors.length > 0) return 2;
  const threshold = severityRank(opts.failOn);
  return report.findings.some((f) => severityRank(f.severity) >= threshold) ? 1 : 0;
}

export function registerLintCommand(program: Command, ctx: CliContext, version: string): void {
  program
    .command('lint')
    .description('Check Kubernetes manifests against the policy rules, locally (no server needed)')
    .argument(
      '<inputs...>',
      'manifest files (YAML or JSON, several documents each), directories (their *.yaml, *.yml and ' +
        '*.json files, recursively, skipping hidden directories, node_modules, Helm charts and files without ' +
        'apiVersion or kind; a directory with a ' +
        'kustomization.yaml: only the resources it lists, without applying patches — pipe `kustomize build` for that), or - for standard input',
    )
    .addOption(
      new Option('-e, --environment <env>', 'the environment the manifests are for: it sets the severities')
        .choices(ENVIRONMENTS)
        .default('unspecified'),
    )
    .addOption(
      new Option('--format <format>', 'output format (default: text, or json with -o json)').choices(LINT_FORMATS),
    )
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 when a finding is at least this severe')
        .choices(SEVERITIES)
        .default('high'),
    )
    .option(
      '--suppress <rule[:kind/namespace/name]>',
      'ignore a rule everywhere, or for one object (KIND/NAME when it has no namespace); repeatable',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .addHelpText(
      'after',
      [
        '',
        'Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 unreadable input',
        '(missing file, invalid YAML: every error is printed with its file and line).',
        '',
        'Examples:',
        '  niro lint k8s/',
        '  niro lint --environment production --format sarif k8s/ > niro.sarif',
        '  helm template ./chart | niro lint --fail-on medium -',
        '  niro lint --suppress single-replica --suppress run-as-root:Deployment/shop/legacy k8s/',
        '',
        `Rules: ${RULES.map((r) => r.id).join(', ')}.`,
      ].join('\n'),
    )
    .action(async (inputs: string[], _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<LintOptions>();
      const format: LintFormat = opts.format ?? (opts.output === 'json' ? 'json' : 'text');
      const code = await runLint(
        ctx,
        inputs,
        { environment: opts.environment, format, failOn: opts.failOn, suppress: opts.suppress ?? [] },
        version,
      );
      if (code !== 0) throw new LintExit(code);
    });
}

/** Findings or unreadable input: the report is printed already, only the exit code is left. */
export class LintExit extends Error {
  constructor(readonly exitCode: number) {
    super(`niro lint: exit ${exitCode}`);
    this.name = 'LintExit';
  }
}
