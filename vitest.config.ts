import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    exclude: ['test/vm/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests mount, unshare and start registries: run files one after another to keep leak
    // checks meaningful and the 2-core machine responsive.
    fileParallelism: false,
    pool: 'forks',
  },
});
