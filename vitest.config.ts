import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    exclude: ['test/vm/**', 'node_modules/**'],
    // Generous on purpose: a timeout is a hang detector, not a speed check. On a loaded 2-core
    // machine the crash-trial tests took over 60 s; speed is measured by `npm run bench`.
    testTimeout: 240_000,
    hookTimeout: 240_000,
    // Tests mount, unshare and start registries: run files one after another to keep leak
    // checks meaningful and the 2-core machine responsive.
    fileParallelism: false,
    pool: 'forks',
  },
});
