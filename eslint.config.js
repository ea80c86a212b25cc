// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Node's modules importable without the `node:` prefix. */
const NODE_BUILTINS = builtinModules.filter((name) => !name.startsWith('_') && !name.includes('/'));

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.niro/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': ['error', { maxDepth: 10, ignoreExternal: true }],
      'import-x/no-default-export': 'off',
      'no-console': 'error',
      // Boundaries: packages never import apps; no deep imports into another package's src.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@niro/*/src', '@niro/*/src/*', '@niro/*/dist/*'],
              message: 'Import the package entry point, not its files.',
            },
            {
              group: ['../../../packages/*', '../../packages/*', '../../../apps/*', '../../apps/*'],
              message: 'Cross-workspace imports go through the package name.',
            },
          ],
        },
      ],
    },
    settings: { 'import-x/resolver-next': [] },
  },
  {
    files: ['packages/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@niro/server', '@niro/cli', '@niro/agent', '@niro/web'],
              message: 'Packages never import apps.',
            },
          ],
        },
      ],
    },
  },
  {
    // The policy engine and the deployment builder run in the server, the CLI and the browser: nothing Node-only.
    files: ['packages/policy/src/**/*.ts', 'packages/builder/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test-support/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@niro/server', '@niro/cli', '@niro/agent', '@niro/web'],
              message: 'Packages never import apps.',
            },
            {
              group: ['node:*', ...NODE_BUILTINS, ...NODE_BUILTINS.map((name) => `${name}/*`)],
              message: 'This package runs in the browser too: no Node modules.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['Buffer', 'process', 'global', 'require', '__dirname', '__filename', 'setImmediate'].map((name) => ({
          name,
          message: 'This package runs in the browser too: no Node globals.',
        })),
      ],
    },
  },
  {
    files: ['apps/server/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test-support/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@niro/cli', '@niro/agent', '@niro/web', '@niro/testkit'],
              message: 'Apps never import other apps; only server tests use the testkit.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['apps/agent/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test-support/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@niro/server', '@niro/cli', '@niro/web', '@niro/testkit', '@niro/testkit/*'],
              message: 'The agent ships alone: it depends on the protocol package only.',
            },
            { group: ['@kubernetes/client-node'], message: 'The agent uses its own client (docs/adr/0006).' },
          ],
        },
      ],
      // Memory budget (docs/adr/0006): the schema modules pull in TypeBox (~25 MB RSS), pino ~9 MB.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@niro/protocol',
              allowTypeImports: true,
              message: "Types only; values come from '@niro/protocol/agent-install' or '/inventory-hash'.",
            },
            { name: 'typebox', message: 'Too heavy for the agent; check shapes by hand.' },
            { name: 'pino', message: 'The agent has its own small logger (logger.ts).' },
          ],
          patterns: [{ group: ['typebox/*'], message: 'Too heavy for the agent; check shapes by hand.' }],
        },
      ],
    },
  },
  {
    // The CLI prints; the test setup and benchmarks report to the console.
    files: ['apps/cli/src/output.ts', 'bench/**/*.ts', 'vitest.global-setup.ts', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.test.ts', '**/test-support/**/*.ts', 'e2e/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // End-to-end tests drive whole apps and reuse the server's test support (databases, clock).
    files: ['e2e/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
