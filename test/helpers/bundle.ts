/**
 * Test bundles for the runtime: a busybox root file system unpacked once by umoci (the reference
 * unpacker), used as an overlay lower dir, and a config.json shaped like the one Docker writes.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { busyboxImageLayout } from './registry.js';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../../src/bundle/docker-defaults.js';
import { OVERLAY_ANNOTATIONS, type RuntimeSpec } from '../../src/bundle/oci-bundle.js';

let lower: string | undefined;

// Each test file imports this module afresh: remove its unpacked lower dir when the file is done.
afterAll(() => {
  if (lower) fs.rmSync(path.dirname(path.dirname(lower)), { recursive: true, force: true });
  lower = undefined;
});

/** A busybox rootfs dir (read-only use: an overlay lower dir), unpacked once per test process. */
export function busyboxLowerDir(): string {
  if (lower && fs.existsSync(lower)) return lower;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-rt-lower-'));
  execFileSync('umoci', ['unpack', '--image', `${busyboxImageLayout()}:latest`, path.join(dir, 'bundle')], { stdio: 'ignore' });
  lower = path.join(dir, 'bundle', 'rootfs');
  return lower;
}

export interface TestBundle {
  dir: string;
  rootfs: string;
  upper: string;
  spec: RuntimeSpec;
  /** Rewrites config.json after changing `spec`. */
  write(): void;
  remove(): void;
}

/** A bundle whose root is an overlay of the busybox lower dir with its own upper dir. */
export function makeBundle(args: string[], change: (spec: RuntimeSpec) => void = () => {}): TestBundle {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-rt-bundle-'));
  const rootfs = path.join(dir, 'rootfs');
  const upper = path.join(dir, 'upper');
  const work = path.join(dir, 'work');
  for (const d of [rootfs, upper, work]) fs.mkdirSync(d);
  const spec = dockerLikeSpec(args);
  spec.annotations = {
    [OVERLAY_ANNOTATIONS.lowerdir]: busyboxLowerDir(),
    [OVERLAY_ANNOTATIONS.upperdir]: upper,
    [OVERLAY_ANNOTATIONS.workdir]: work,
  };
  change(spec);
  const bundle: TestBundle = {
    dir, rootfs, upper, spec,
    write: () => fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(bundle.spec, null, 2)),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
  bundle.write();
  return bundle;
}

export function dockerLikeSpec(args: string[]): RuntimeSpec {
  return {
    ociVersion: '1.0.2',
    root: { path: 'rootfs' },
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=testbox'],
      cwd: '/',
      capabilities: {
        bounding: DEFAULT_CAPABILITIES, effective: DEFAULT_CAPABILITIES, permitted: DEFAULT_CAPABILITIES,
      },
      noNewPrivileges: true,
    },
    hostname: 'testbox',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
      maskedPaths: DEFAULT_MASKED_PATHS,
      readonlyPaths: DEFAULT_READONLY_PATHS,
    },
  };
}

/** Lines of the host's mountinfo that mention `needle` (a test dir): should be none after a test. */
export function hostMountsMentioning(needle: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes(needle));
}
