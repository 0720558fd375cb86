/**
 * Hooks are wired in one visible list (src/lifecycle/hooks/hooks.ts), not by importing a module
 * for its side effects into a mutable exported `let`. On main hooks.ts exported `let
 * oomEventFiles` and reconcile.ts imported cgroup-hooks.js and network-hooks.js for their side
 * effects: the first two tests failed there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceFiles, srcDir } from '../helpers/source-files.js';
import { oomEventFiles } from '../../src/lifecycle/hooks/hooks.js';

const src = srcDir;


const matching = (pattern: RegExp) => sourceFiles(src)
  .filter((file) => pattern.test(fs.readFileSync(file, 'utf8')))
  .map((file) => path.relative(src, file));

describe('container hooks', () => {
  it('no module registers anything by being imported', () => {
    expect(matching(/^import '[^']+';/m)).toEqual([]);
  });

  it('no module exports mutable state', () => {
    expect(matching(/^export let /m)).toEqual([]);
  });

  it('the OOM count after an exit is read from the container\'s own cgroup v2 file', () => {
    expect(oomEventFiles('abc')).toEqual(['/sys/fs/cgroup/minibox/abc/memory.events']);
  });
});
