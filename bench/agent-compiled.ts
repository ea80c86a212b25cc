import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** Ignored by git (node_modules/), and inside the repository so bare imports (pino, typebox, yaml) resolve. */
const OUT = path.join(REPO, 'node_modules', '.cache', 'niro-bench-agent');

/**
 * Compiles the agent and @niro/protocol to plain JavaScript, as deploy/agent/Dockerfile does,
 * so the agent runs as `node dist/main.js` without a TypeScript loader (which alone adds tens of
 * MB of RSS: its hooks run in their own thread). Per-file transpilation is safe because the
 * sources build with `isolatedModules`. Returns the path of the compiled `main.js`.
 */
export function buildCompiledAgent(): string {
  fs.rmSync(OUT, { recursive: true, force: true });
  const protocolOut = path.join(OUT, 'node_modules', '@niro', 'protocol');
  transpileTree(path.join(REPO, 'packages', 'protocol', 'src'), path.join(protocolOut, 'dist'));
  // The package's own exports, minus the source condition: every subpath resolves to dist/.
  const pkg: unknown = JSON.parse(fs.readFileSync(path.join(REPO, 'packages', 'protocol', 'package.json'), 'utf8'));
  const exportsMap: Record<string, string> = {};
  const declared = typeof pkg === 'object' && pkg !== null && 'exports' in pkg ? pkg.exports : undefined;
  for (const [subpath, target] of Object.entries(typeof declared === 'object' && declared !== null ? declared : {})) {
    const dist: unknown =
      typeof target === 'object' && target !== null && 'default' in target ? target.default : undefined;
    if (typeof dist === 'string') exportsMap[subpath] = dist;
  }
  fs.writeFileSync(
    path.join(protocolOut, 'package.json'),
    JSON.stringify({ name: '@niro/protocol', type: 'module', exports: exportsMap }),
  );
  const agentOut = path.join(OUT, 'agent');
  transpileTree(path.join(REPO, 'apps', 'agent', 'src'), path.join(agentOut, 'dist'));
  // The agent reads its version from ../package.json.
  fs.copyFileSync(path.join(REPO, 'apps', 'agent', 'package.json'), path.join(agentOut, 'package.json'));
  return path.join(agentOut, 'dist', 'main.js');
}

function transpileTree(from: string, to: string): void {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'test-support') transpileTree(source, path.join(to, entry.name));
      continue;
    }
    if (!entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts') || entry.name.endsWith('.d.ts')) continue;
    const { outputText } = ts.transpileModule(fs.readFileSync(source, 'utf8'), {
      fileName: source,
      compilerOptions: {
        target: ts.ScriptTarget.ES2023,
        module: ts.ModuleKind.ES2022,
        verbatimModuleSyntax: true,
      },
    });
    fs.mkdirSync(to, { recursive: true });
    fs.writeFileSync(path.join(to, entry.name.replace(/\.ts$/, '.js')), outputText);
  }
}

export function removeCompiledAgent(): void {
  fs.rmSync(OUT, { recursive: true, force: true });
}
