// Vitest settings for the test files that run INSIDE the VM (scripts/vm/init.sh runs them):
// only test/vm, one file at a time, with room for TCG emulation being ~10× slower than the host.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: new URL('../..', import.meta.url).pathname,
  test: {
    include: ['test/vm/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    pool: 'forks',
    reporters: ['verbose'],
  },
});
