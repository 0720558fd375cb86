import fs from 'node:fs';
import { expect, it } from 'vitest';
it('sees cgroup2', () => {
  expect(fs.readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8')).toContain('memory');
});
