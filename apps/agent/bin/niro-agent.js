#!/usr/bin/env node
// Launcher for the built agent, so `npx niro-agent` works from the repository root.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('niro-agent: not built yet; run `npm run build` in the repository root first\n');
  process.exit(1);
}
await import(main.href);
