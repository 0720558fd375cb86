/**
 * The bundle minibox writes is a standard OCI bundle: the reference runtime, runc, can start it.
 * The overlay (normally mounted by minibox's runtime inside the container's mount namespace) is
 * mounted here by the test on the bundle's rootfs/ and unmounted afterwards.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerStore } from '../../src/container/container-store.js';
import { checkRequest, createContainer, removeContainer, type CreateRequest } from '../../src/lifecycle/create.js';
import type { RunnableImage } from '../../src/lifecycle/image-source.js';
import { VolumeStore } from '../../src/bundle/volumes.js';
import { StateRoot } from '../../src/state-root.js';
import { mount, umount } from '../../src/sys/mount.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { busyboxImageLayout } from '../helpers/registry.js';
import { readSpec } from '../../src/bundle/oci-bundle.js';

let work: string;
let lower: string;
let root: StateRoot;
let image: RunnableImage;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-engine-runc-'));
  execFileSync('umoci', ['unpack', '--image', `${busyboxImageLayout()}:latest`, path.join(work, 'image')], { stdio: 'ignore' });
  lower = path.join(work, 'image', 'rootfs');
  root = new StateRoot(path.join(work, 'root'));
  image = {
    reference: 'busybox', id: `sha256:${'0'.repeat(64)}`,
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    layerDirsTopFirst: [lower],
  };
});

afterAll(() => {
  expectNoLeaks(root.dir, [work]);
  fs.rmSync(work, { recursive: true, force: true });
});

/** Creates a container from `request` and runs its bundle with runc; returns runc's result. */
async function runWithRunc(request: Omit<CreateRequest, 'image'>): Promise<{ id: string; code: number; stdout: string; stderr: string }> {
  const { record, paths } = await createContainer(root, image, checkRequest({ image: 'busybox', ...request }));
  const annotations = readSpec(paths.dir).annotations ?? {};
  mount({
    source: 'overlay', target: paths.rootfs, fstype: 'overlay',
    data: `lowerdir=${annotations['org.minibox.overlay.lowerdir']},upperdir=${annotations['org.minibox.overlay.upperdir']},workdir=${annotations['org.minibox.overlay.workdir']}`,
  });
  try {
    const result = spawnSync('runc', ['run', '-b', paths.dir, `mb-engine-${record.Id.slice(0, 12)}`], { encoding: 'utf8', timeout: 60_000 });
    return { id: record.Id, code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  } finally {
    umount(paths.rootfs);
  }
}

describe('runc can start the bundle minibox writes', () => {
  it('runs as the image user, with hostname, HOME, workdir and the /etc files', async () => {
    const run = await runWithRunc({
      name: 'runc-check',
      command: ['sh', '-c', 'id; hostname; echo "HOME=$HOME"; pwd; cat /etc/hostname; grep -c nameserver /etc/resolv.conf; grep -c box /etc/hosts'],
      user: 'app', workdir: '/work/here', network: 'none', hostname: 'box',
    });
    try {
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const lines = run.stdout.trim().split('\n');
      expect(lines[0]).toBe('uid=1000(app) gid=1000(app) groups=10(wheel),100(users)');
      expect(lines.slice(1, 5)).toEqual(['box', 'HOME=/home/app', '/work/here', 'box']);
      expect(Number(lines[5])).toBeGreaterThan(0);
      expect(lines[6]).toBe('1');
      expect(fs.existsSync(path.join(lower, 'work'))).toBe(false); // -w was created in the upper dir only
    } finally {
      await removeContainer(root, run.id);
    }
  });

  it('writes go to the upper dir (removed with the container), volumes keep theirs', async () => {
    const hostDir = path.join(work, 'host-share');
    const run = await runWithRunc({
      command: ['sh', '-c', 'echo shared > /host/out; echo kept > /vol/out; echo scratch > /tmp/f'],
      volumes: [`${hostDir}:/host`, 'engine-vol:/vol'],
    });
    const upper = new ContainerStore(root).paths(run.id).upper;
    try {
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(fs.readFileSync(path.join(hostDir, 'out'), 'utf8')).toBe('shared\n');
      // Copy-on-write: the write landed in the container's upper dir, never in the image layer.
      expect(fs.readFileSync(path.join(upper, 'tmp', 'f'), 'utf8')).toBe('scratch\n');
      expect(fs.existsSync(path.join(lower, 'tmp', 'f'))).toBe(false);
      await expect(new VolumeStore(root).remove('engine-vol')).rejects.toThrow(`remove engine-vol: volume is in use - [${run.id}]`);
    } finally {
      await removeContainer(root, run.id);
    }
    expect(fs.existsSync(upper)).toBe(false);
    const volume = new VolumeStore(root).get('engine-vol')!;
    expect(fs.readFileSync(path.join(volume.Mountpoint, 'out'), 'utf8')).toBe('kept\n');
    await new VolumeStore(root).remove('engine-vol');
  });

  it('a read-only root refuses writes while a --tmpfs stays writable', async () => {
    const run = await runWithRunc({ command: ['sh', '-c', 'echo x > /tmp/t && cat /tmp/t; touch /nope 2>/dev/null || echo readonly'], readOnly: true, tmpfs: ['/tmp'] });
    expect(run.stdout).toBe('x\nreadonly\n');
    await removeContainer(root, run.id);
  });

  it('runc loads the same seccomp filter from config.json: unshare -U is refused, with and without it', async () => {
    const probe = 'grep "^Seccomp:" /proc/self/status; unshare -U true 2>/dev/null; echo "unshare=$?"';
    const confined = await runWithRunc({ command: ['sh', '-c', probe], network: 'none' });
    const unconfined = await runWithRunc({ command: ['sh', '-c', probe], network: 'none', securityOpt: ['seccomp=unconfined'] });
    try {
      expect(confined.stdout).toBe('Seccomp:\t2\nunshare=1\n');
      expect(unconfined.stdout).toBe('Seccomp:\t0\nunshare=0\n');
    } finally {
      await removeContainer(root, confined.id);
      await removeContainer(root, unconfined.id);
    }
  });

  it('a container name is claimed once', async () => {
    const first = await createContainer(root, image, checkRequest({ image: 'busybox', command: ['true'], name: 'web' }));
    await expect(createContainer(root, image, checkRequest({ image: 'busybox', command: ['true'], name: 'web' })))
      .rejects.toThrow(`Conflict. The container name "/web" is already in use by container "${first.record.Id}". You have to remove (or rename) that container to be able to reuse that name.`);
    await removeContainer(root, first.record.Id);
    expect(fs.readdirSync(root.containers)).toEqual([]);
  });

  it('an unknown user fails before anything is created', async () => {
    await expect(createContainer(root, image, checkRequest({ image: 'busybox', command: ['true'], user: 'bob' })))
      .rejects.toThrow('unable to find user bob: no matching entries in passwd file');
    expect(fs.readdirSync(root.containers)).toEqual([]);
  });
});
