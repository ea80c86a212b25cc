import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@niro/source'] },
  ssr: { resolve: { conditions: ['@niro/source'] } },
  test: {
    include: [
      'apps/*/src/**/*.test.ts',
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'e2e/**/*.test.ts',
    ],
    globalSetup: ['./vitest.global-setup.ts', './apps/server/src/modules/web/test-support/web-global-setup.ts'],
    // Two cores: two workers, each test file owns its databases.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
