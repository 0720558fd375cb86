/**
 * `pause` on a host without cgroup v2 (this project's hybrid CI hosts, or any v1 machine): one
 * clear line, exit 1, and not a byte written to any cgroup hierarchy. The layout comes from the
 * MINIBOX_TEST_CGROUP_MOUNTINFO seam (cgroups/mode.ts), so the refusal is proven on any host;
 * the freezer itself is proven in the VM (test/vm/pause.test.ts).
 * Fails on main (checked): `pause` was not a minibox command.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pulledBusybox } from '../helpers/pulled-busybox.js';
import { minibox } from '../helpers/minibox.js';

const frame = pulledBusybox('pause-refused');
const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', `mountinfo-${name}.txt`);

describe('pause without cgroup v2', () => {
  it('refuses in one line (exit 1) on hybrid and legacy hosts; the container runs on', () => {
    const run = minibox(frame.root, ['run', '-d', '--name', 'pz', '--network', 'none', frame.image, 'sleep', '1000'],
      { env: { MINIBOX_TEST_CGROUP_MOUNTINFO: fixture('hybrid') } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    try {
      for (const layout of ['hybrid', 'legacy']) {
        for (const verb of ['pause', 'unpause']) {
          const refused = minibox(frame.root, [verb, 'pz'], { env: { MINIBOX_TEST_CGROUP_MOUNTINFO: fixture(layout) } });
          expect(refused.code).toBe(1);
          expect(refused.stderr).toMatch(/needs the cgroup v2 freezer \(cgroup\.freeze\), but this host's cgroups are/);
          expect(refused.stderr.trim().split('\n')).toHaveLength(1);
        }
      }
      expect(minibox(frame.root, ['ps', '--format', '{{.Status}}']).stdout).toMatch(/^Up [^(]*\n$/);
      const missing = minibox(frame.root, ['pause', 'nosuch'], { env: { MINIBOX_TEST_CGROUP_MOUNTINFO: fixture('unified') } });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/No such container: nosuch/);
    } finally {
      expect(minibox(frame.root, ['rm', '-f', 'pz']).code).toBe(0);
    }
  });
});
