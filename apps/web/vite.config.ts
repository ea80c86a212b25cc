import react from '@vitejs/plugin-react';
import { defaultClientConditions, defaultServerConditions, defineConfig } from 'vite';

/**
 * Two builds from one config: `vite build` makes the browser bundle (dist/client, with a manifest
 * the server reads to name the entry script and styles), `vite build --ssr` the streaming renderer
 * (dist/server/entry-server.js) the server loads at start-up. See docs/adr/0009-dashboard-stack.md.
 */
export default defineConfig(({ isSsrBuild }) => ({
  plugins: [react()],
  // Workspace packages from their TypeScript sources (the `@niro/source` export condition) in both
  // builds, so the dashboard never bundles a stale packages/*/dist.
  resolve: { conditions: ['@niro/source', ...defaultClientConditions] },
  ssr: { resolve: { conditions: ['@niro/source', ...defaultServerConditions] } },
  build: isSsrBuild
    ? { outDir: 'dist/server', emptyOutDir: true, rollupOptions: { input: 'src/entry-server.tsx' } }
    : {
        outDir: 'dist/client',
        emptyOutDir: true,
        manifest: true,
        rollupOptions: { input: 'src/entry-client.tsx' },
      },
}));
