/**
 * podman.ts — podman as a peer in the benchmarks: a store of its own, and the clean-up its
 * default network needs on a shared host.
 *
 * podman 4.3 (Debian's) runs here with runc (crun refuses hybrid cgroups) and lower rlimits than
 * its defaults (the sandbox's hard limits are lower): `--runtime runc --ulimit nofile=1024:1024
 * --ulimit nproc=1000:1000`. Its images and containers go under the benchmark's own directory
 * (`--root`, `--runroot`), never /var/lib/containers. Its default network (CNI, `cni-podman0`)
 * leaves a bridge, two iptables chains, /var/lib/cni and ip_forward=1 on the host;
 * `podmanNetworkCleanup` removes what was not there before it ran.
 *
 * Try: `podman --root /tmp/p --runroot /tmp/p/run --runtime runc --cgroup-manager cgroupfs
 * --ulimit nofile=1024:1024 run --rm --network none IMAGE true` (after `podman … pull`).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BenchWorkspace } from './workspace.js';

export interface Podman {
  /** podman and its global options: `[...podman.global, 'run', …]`. */
  global: string[];
  /** The options every `run` needs here. */
  runOptions: string[];
  /** The image, as podman names it. */
  image: string;
}

/** podman with its own store holding `reference` (pulled from the local registry), or why not. */
export function podmanWithImage(workspace: BenchWorkspace, reference: string): Podman | string {
  if (spawnSync('podman', ['--version'], { stdio: 'ignore' }).status !== 0) return 'podman is not installed (apt-get install podman)';
  const dir = workspace.tempDir('podman');
  const global = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--runtime', 'runc',
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--storage-driver', 'overlay'];
  workspace.onCleanup(() => {
    spawnSync('podman', [...global, 'rm', '-a', '-f'], { stdio: 'ignore' });
    spawnSync('podman', [...global, 'system', 'reset', '-f'], { stdio: 'ignore' }); // unmounts its overlay store
  });
  const pulled = spawnSync('podman', [...global, 'pull', '-q', '--tls-verify=false', reference], { encoding: 'utf8' });
  if (pulled.status !== 0) return `podman pull failed: ${pulled.stderr.trim().split('\n').pop() ?? ''}`;
  return { global, runOptions: ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1000:1000'], image: reference };
}

const CNI_STATE = '/var/lib/cni';

function linkExists(name: string): boolean {
  return fs.existsSync(`/sys/class/net/${name}`);
}

function chainExists(chain: string): boolean {
  return spawnSync('iptables', ['-w', '-n', '-L', chain], { stdio: 'ignore' }).status === 0;
}

/**
 * Call before podman's default network is first used; returns the undo: podman's bridge and CNI
 * chains go if they were not there before, and ip_forward is put back unless minibox now manages
 * it (/run/minibox/ip_forward.saved: minibox restores it when its last bridge goes).
 */
export function podmanNetworkCleanup(): () => void {
  const hadBridge = linkExists('cni-podman0');
  const hadChains = chainExists('CNI-FORWARD');
  const hadCniState = fs.existsSync(CNI_STATE); // the CNI plugins' address book
  const forwarding = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  return () => {
    if (!hadBridge && linkExists('cni-podman0')) spawnSync('ip', ['link', 'del', 'cni-podman0'], { stdio: 'ignore' });
    if (!hadChains && chainExists('CNI-FORWARD')) {
      spawnSync('iptables', ['-w', '-D', 'FORWARD', '-m', 'comment', '--comment', 'CNI firewall plugin rules', '-j', 'CNI-FORWARD'], { stdio: 'ignore' });
      for (const chain of ['CNI-FORWARD', 'CNI-ADMIN']) {
        spawnSync('iptables', ['-w', '-F', chain], { stdio: 'ignore' });
        spawnSync('iptables', ['-w', '-X', chain], { stdio: 'ignore' });
      }
    }
    if (!hadCniState) fs.rmSync(CNI_STATE, { recursive: true, force: true });
    const now = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    if (now !== forwarding && !fs.existsSync('/run/minibox/ip_forward.saved')) fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', forwarding);
  };
}
