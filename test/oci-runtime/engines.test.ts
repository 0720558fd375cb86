/**
 * Real engines drive minibox-runc as their OCI runtime, with nothing mocked:
 *   - podman 4.3 (`--runtime bin/minibox-runc`, through conmon): `run --rm echo hi`; `run -d`,
 *     `exec`, `stop`, `rm`; `run -it` in a terminal (tmux), where the pty master travels to
 *     conmon over --console-socket; `run --uidmap` (a user namespace: the scratch dir is 0711 so
 *     that the container's root, host uid 100000, reaches podman's rootfs under it);
 *   - containerd 1.6, started here with its own root, state and socket: `ctr image import` of a
 *     busybox archive, then `ctr run --rm --runc-binary bin/minibox-runc`: the output and the exit
 *     status come back through containerd's shim.
 * Everything lives under one temp dir (podman's storage and run root, containerd's dirs) plus the
 * runtime state dirs it names; all is removed and unmounted after. No network: podman runs with
 * `--network none`, so no bridge or iptables rule is made. On this host podman also needs
 * `--ulimit nofile=… nproc=…` (its defaults exceed the sandbox's hard limits) and `--pids-limit 0`
 * (its default pids limit needs cgroup v2 with minibox-runc; this host's cgroups are hybrid).
 * Each test failed on main (no minibox-runc there). ~25 s: two engines, each started cold.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/registry.js';
import { mountsUnder } from '../helpers/leaks.js';
import { killSession, tmux, waitForScreen } from '../helpers/tmux.js';
import { ociScratch, runcBin, until } from './helpers.js';

const scratch = ociScratch('mb-oci-eng-');
fs.chmodSync(scratch.dir, 0o711);
const layout = path.join(scratch.dir, 'layout');
const have = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

beforeAll(() => {
  execFileSync(path.join(repoRoot, 'scripts/build-busybox-image.sh'), [layout, 'latest'], { stdio: 'ignore' });
});

afterAll(() => {
  for (const target of mountsUnder([scratch.dir]).reverse()) spawnSync('umount', ['-l', target]);
  expect(mountsUnder([scratch.dir]), 'mounts left under the scratch dir').toEqual([]);
  fs.rmSync(scratch.dir, { recursive: true, force: true });
});

describe.skipIf(!have('podman'))('podman --runtime minibox-runc', () => {
  const podmanArgs = [
    '--root', path.join(scratch.dir, 'podman/storage'), '--runroot', path.join(scratch.dir, 'podman/run'),
    '--runtime', runcBin,
  ];
  // The runtime's default --root: podman's cleanup (`podman container cleanup`, run by conmon when
  // a container exits) does not pass --runtime-flag on, so a private root would miss its deletes.
  const runtimeRoot = '/run/minibox-runc';
  const entries = (): string[] => (fs.existsSync(runtimeRoot) ? fs.readdirSync(runtimeRoot) : []);
  let before: string[] = [];
  const runFlags = ['--network', 'none', '--pids-limit', '0', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1000:1000'];
  const podman = (...args: string[]): { code: number; stdout: string; stderr: string } => {
    const result = spawnSync('podman', [...podmanArgs, ...args], { encoding: 'utf8', timeout: 120_000 });
    return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  };

  beforeAll(() => {
    before = entries();
    const pulled = podman('pull', '-q', `oci:${layout}:latest`);
    expect(pulled.stderr).toBe('');
    expect(podman('tag', pulled.stdout.trim(), 'bb:latest').code).toBe(0);
  });
  afterAll(() => {
    podman('rm', '-a', '-f');
    podman('rmi', '-a', '-f');
    expect(entries().filter((id) => !before.includes(id)), 'runtime state left by podman').toEqual([]);
  });

  it('run --rm prints the output and returns the exit status', () => {
    const result = podman('run', '--rm', ...runFlags, 'bb', 'sh', '-c', 'echo hi from $(hostname); exit 6');
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^hi from [0-9a-f]{12}\n$/);
    expect(result.code).toBe(6);
  });

  it('run -d, exec, stop, rm', () => {
    const id = podman('run', '-d', '--name', 'minibox-runc-d', ...runFlags, 'bb', 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done').stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const exec = podman('exec', 'minibox-runc-d', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; exit 2');
    expect(exec.stdout).toMatch(/^sh -c trap/);
    expect(exec.code).toBe(2);
    expect(podman('stop', '-t', '10', 'minibox-runc-d').code).toBe(0);
    expect(podman('inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'minibox-runc-d').stdout).toBe('exited 0\n');
    expect(podman('rm', 'minibox-runc-d').code).toBe(0);
  });

  it('run --uidmap: minibox-runc makes the user namespace, root inside is host uid 100000', () => {
    const maps = ['--uidmap', '0:100000:65536', '--gidmap', '0:100000:65536'];
    const result = podman('run', '--rm', ...runFlags, ...maps, 'bb', 'sh', '-c', 'id -u; cat /proc/self/uid_map');
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^0\n\s+0\s+100000\s+65536\n$/);
    expect(result.code).toBe(0);
  });

  it('run -it in a terminal: the pty arrives through --console-socket', async () => {
    const session = `mb-oci-podman-${process.pid}`;
    const command = ['podman', ...podmanArgs, 'run', '--rm', '-it', ...runFlags, 'bb', 'sh'].join(' ');
    try {
      tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', `${command}; echo "EXIT=$?"; sleep 60`);
      await waitForScreen(session, /^\/ #/m);
      tmux('send-keys', '-t', session, 'tty; stty size; exit 9', 'Enter');
      const screen = await waitForScreen(session, /^EXIT=9$/m);
      expect(screen).toMatch(/^\/dev\/pts\/0$/m);
      expect(screen).toMatch(/^30 100$/m);
    } finally {
      killSession(session);
    }
  });
});

describe.skipIf(!have('containerd') || !have('ctr') || !have('skopeo'))('containerd: ctr run --runc-binary minibox-runc', () => {
  const dir = path.join(scratch.dir, 'containerd');
  const socket = path.join(dir, 'containerd.sock');
  const namespace = `minibox-test-${process.pid}`;
  let daemon: ChildProcess;
  const ctr = (...args: string[]): { code: number; stdout: string; stderr: string } => {
    const result = spawnSync('ctr', ['-a', socket, '-n', namespace, ...args], { encoding: 'utf8', timeout: 120_000 });
    return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  };

  beforeAll(async () => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.toml'), [
      'version = 2', `root = "${dir}/root"`, `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]', '[grpc]', `  address = "${socket}"`, '',
    ].join('\n'));
    daemon = spawn('containerd', ['--config', path.join(dir, 'config.toml')], { stdio: 'ignore' });
    await until(() => ctr('version').code === 0, 'containerd answers');
    execFileSync('skopeo', ['copy', `oci:${layout}:latest`, `docker-archive:${dir}/bb.tar:busybox:latest`], { stdio: 'ignore' });
    expect(ctr('image', 'import', `${dir}/bb.tar`).code).toBe(0);
  });
  afterAll(async () => {
    ctr('image', 'rm', 'docker.io/library/busybox:latest');
    daemon.kill('SIGTERM');
    await new Promise((resolve) => daemon.once('exit', resolve));
    // containerd's shim passed `--root /run/containerd/runc/<namespace>` to the runtime.
    const runtimeRoot = `/run/containerd/runc/${namespace}`;
    expect(fs.existsSync(runtimeRoot) ? fs.readdirSync(runtimeRoot) : [], 'runtime state left by containerd').toEqual([]);
    fs.rmSync(runtimeRoot, { recursive: true, force: true });
  });

  it('the output and the exit status arrive through the shim', () => {
    const result = ctr('run', '--rm', '--runc-binary', runcBin, 'docker.io/library/busybox:latest', 'c1',
      'sh', '-c', 'echo hi from pid $$; exit 7');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('hi from pid 1\n');
    expect(result.code).toBe(7);
  });
});
