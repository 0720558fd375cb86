import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeBundle, hostMountsMentioning } from '../helpers/bundle.js';
import { runContainer } from '../../src/runtime/index.js';
import { OVERLAY_ANNOTATIONS } from '../../src/bundle/oci-bundle.js';
import { mount, umount } from '../../src/sys/mount.js';

describe('minibox bundles are ordinary OCI bundles', () => {
  test('runc runs the same bundle minibox runs', async () => {
    const script = 'hostname; grep -E "^CapEff" /proc/self/status; ps -o pid | sed -n 2p';
    const bundle = makeBundle(['sh', '-c', script]);
    const runcRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-runc-state-'));
    try {
      const ours = await runContainer(bundle.dir, { stdio: 'pipe' });

      // runc does not read minibox's annotations: mount the same overlay on rootfs first.
      const a = bundle.spec.annotations!;
      mount({ source: 'overlay', target: bundle.rootfs, fstype: 'overlay',
        data: `lowerdir=${a[OVERLAY_ANNOTATIONS.lowerdir]},upperdir=${a[OVERLAY_ANNOTATIONS.upperdir]},workdir=${a[OVERLAY_ANNOTATIONS.workdir]}` });
      let theirs: string;
      try {
        theirs = execFileSync('runc', ['--root', runcRoot, 'run', '--bundle', bundle.dir, `minibox-test-${process.pid}`],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } finally {
        umount(bundle.rootfs);
      }
      expect(ours.exitCode).toBe(0);
      expect(theirs).toBe(ours.stdout);
      expect(ours.stdout).toBe('testbox\nCapEff:\t00000000a80425fb\n    1\n');
    } finally {
      expect(hostMountsMentioning(bundle.dir)).toEqual([]);
      bundle.remove();
      fs.rmSync(runcRoot, { recursive: true, force: true });
    }
  });
});
