/**
 * checks.ts — what `minibox doctor` looks at: is this kernel and machine able to run containers,
 * and which features (resource limits, networking, tests) are missing and how to get them.
 *
 * Each check only *reads*: /proc/filesystems (which file systems the kernel can mount),
 * /proc/self/mountinfo (the cgroup layout), /proc/self/ns (which namespaces exist),
 * /proc/sys (user-namespace and seccomp switches), /lib/modules/<release> (modules the kernel
 * could load), `--version` output of tools, whether libseccomp.so.2 loads; for the containers of
 * the state root, whether their networks are still plugged in (`ip -j link show`). Nothing is
 * loaded, mounted or created — probing with
 * `ip link add type veth` would leave things behind if it failed half-way.
 *
 * A failed *required* check means `minibox run` cannot work here (exit status 1); a warning
 * means one feature is unavailable (e.g. `--memory` without cgroup v2) while `run` still works.
 *
 * Try: `minibox doctor` → `overlayfs … namespaces … cgroups … network:`
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { checkNetworking as detailedNetworkChecks } from '../network/doctor.js';
import { resolveStateRoot, type StateRoot } from '../state-root.js';
import { filesystemOf, upperFilesystemProblem } from '../runtime/rootfs/upper-filesystem.js';
import { reconcileAll } from '../container/reconcile.js';
import { lostNetworks } from '../network/endpoint-health.js';
import { declareSeccompCalls } from '../sys/seccomp.js';
import { availableControllers, cgroupMode, describeCgroupMode, v1ControllersFrom, type CgroupMode } from '../cgroups/mode.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  /** Short name: `kernel`, `overlayfs`, `cgroups`… */
  name: string;
  status: CheckStatus;
  /** What was found, in a few words. */
  detail: string;
  /** How to fix it, when it is not ok. */
  fix?: string;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The kernel's build configuration (/proc/config.gz or /boot/config-<release>), or ''. */
function kernelConfig(release: string): string {
  try {
    return zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    return readText(`/boot/config-${release}`) ?? '';
  }
}

/** Kernel config symbols of the modules doctor asks about. */
const CONFIG_SYMBOLS: Record<string, string> = { overlay: 'OVERLAY_FS', veth: 'VETH', bridge: 'BRIDGE' };

/**
 * True when the kernel has module `name` built in, loaded, or installed for loading: /sys/module,
 * modules.builtin/modules.dep of this release, or CONFIG_<SYMBOL>=y|m in the kernel's config.
 */
export function kernelModuleAvailable(name: string, release = os.release()): boolean {
  if (fs.existsSync(`/sys/module/${name}`)) return true;
  const pattern = new RegExp(`(^|/)${name}\\.ko(\\.[a-z]+)?(:|$)`, 'm');
  if (['modules.builtin', 'modules.dep'].some((file) => pattern.test(readText(`/lib/modules/${release}/${file}`) ?? ''))) return true;
  const symbol = CONFIG_SYMBOLS[name];
  return symbol !== undefined && new RegExp(`^CONFIG_${symbol}=[ym]$`, 'm').test(kernelConfig(release));
}

/** The first line of `tool --version`-style output, or undefined when the tool is not on PATH. */
export function toolVersion(tool: string, args = ['--version']): string | undefined {
  const found = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])
    .map((dir) => path.join(dir, tool))
    .find((file) => {
      try {
        fs.accessSync(file, fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  if (!found) return undefined;
  const result = spawnSync(found, args, { encoding: 'utf8', timeout: 5000 });
  const line = `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n').find((text) => text.trim() !== '');
  return line?.trim() ?? found;
}

export function checkPrivileges(uid = process.getuid?.() ?? -1): Check {
  return uid === 0
    ? { name: 'privileges', status: 'ok', detail: 'running as root' }
    : { name: 'privileges', status: 'fail', detail: `running as uid ${uid}`, fix: 'run minibox as root (sudo minibox …): mounts and namespaces need CAP_SYS_ADMIN' };
}

export function checkKernel(release = os.release()): Check {
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
  const recent = major > 5 || (major === 5 && minor >= 4);
  if (recent) return { name: 'kernel', status: 'ok', detail: `Linux ${release}` };
  return major >= 4
    ? { name: 'kernel', status: 'warn', detail: `Linux ${release} (old)`, fix: 'use Linux 5.4 or newer for cgroup v2 limits (cgroup.kill needs 5.14)' }
    : { name: 'kernel', status: 'fail', detail: `Linux ${release}`, fix: 'minibox needs Linux 4.x or newer (overlayfs, cgroup namespaces)' };
}

export function checkOverlay(filesystems = readText('/proc/filesystems') ?? '', moduleAvailable = kernelModuleAvailable('overlay')): Check {
  if (/\boverlay$/m.test(filesystems)) return { name: 'overlayfs', status: 'ok', detail: 'available (listed in /proc/filesystems)' };
  if (moduleAvailable) return { name: 'overlayfs', status: 'ok', detail: 'module installed (loaded on first mount)' };
  return { name: 'overlayfs', status: 'fail', detail: 'not in /proc/filesystems and no overlay module', fix: 'install your distribution\'s kernel modules package and run `modprobe overlay`' };
}

export function checkCgroups(mode: CgroupMode = cgroupMode(), v2Controllers = availableControllers(), v1Controllers = v1ControllersFrom(readText('/proc/cgroups') ?? '')): Check {
  const needed = ['cpu', 'memory', 'pids'];
  if (mode === 'unified') {
    const missing = needed.filter((name) => !v2Controllers.includes(name));
    const detail = `${describeCgroupMode(mode)}; controllers: ${v2Controllers.join(' ') || 'none'}`;
    return missing.length === 0
      ? { name: 'cgroups', status: 'ok', detail }
      : { name: 'cgroups', status: 'warn', detail, fix: `the ${missing.join(', ')} controller(s) are missing: limits using them are unavailable (check the kernel config and boot options)` };
  }
  const v1 = v1Controllers.length > 0 ? `; v1 controllers: ${v1Controllers.join(' ')}` : '';
  return {
    name: 'cgroups', status: 'warn', detail: `${describeCgroupMode(mode)}${v1}`,
    fix: 'resource limits (--memory, --cpus, --pids-limit…), `minibox stats` and `minibox update` need cgroup v2; '
      + 'containers still run without them. '
      + 'Boot with systemd.unified_cgroup_hierarchy=1, or use the Vagrant VM (docs/vm.md)',
  };
}

const REQUIRED_NAMESPACES = ['mnt', 'uts', 'ipc', 'pid', 'net'];
const OPTIONAL_NAMESPACES = ['cgroup', 'user', 'time'];

export function checkNamespaces(present = readDirectory('/proc/self/ns')): Check {
  const missing = REQUIRED_NAMESPACES.filter((name) => !present.includes(name));
  const have = [...REQUIRED_NAMESPACES, ...OPTIONAL_NAMESPACES].filter((name) => present.includes(name));
  if (missing.length > 0) {
    return { name: 'namespaces', status: 'fail', detail: `missing: ${missing.join(' ')}`, fix: 'use a kernel built with CONFIG_NAMESPACES and the missing CONFIG_*_NS options' };
  }
  const noCgroupNs = !present.includes('cgroup');
  return noCgroupNs
    ? { name: 'namespaces', status: 'warn', detail: have.join(' '), fix: 'no cgroup namespace (Linux 4.6+): containers will see the host\'s cgroup paths' }
    : { name: 'namespaces', status: 'ok', detail: have.join(' ') };
}

function readDirectory(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

export interface UserNamespaceSwitches {
  /** /proc/sys/user/max_user_namespaces (absent: no user namespaces in this kernel). */
  maxUserNamespaces?: string | undefined;
  /** /proc/sys/kernel/unprivileged_userns_clone (a Debian/Ubuntu patch; absent elsewhere). */
  unprivilegedClone?: string | undefined;
}

function readUserNamespaceSwitches(): UserNamespaceSwitches {
  return {
    maxUserNamespaces: readText('/proc/sys/user/max_user_namespaces')?.trim(),
    unprivilegedClone: readText('/proc/sys/kernel/unprivileged_userns_clone')?.trim(),
  };
}

export function checkUserNamespaces({ maxUserNamespaces, unprivilegedClone }: UserNamespaceSwitches = readUserNamespaceSwitches()): Check {
  if (maxUserNamespaces === undefined) {
    return { name: 'user namespaces', status: 'warn', detail: 'not supported by this kernel', fix: 'optional: minibox runs containers as root without a user namespace' };
  }
  if (maxUserNamespaces === '0') {
    return { name: 'user namespaces', status: 'warn', detail: 'disabled (user.max_user_namespaces = 0)', fix: 'optional; to enable: sysctl -w user.max_user_namespaces=15000' };
  }
  const unprivileged = unprivilegedClone === undefined ? '' : unprivilegedClone === '1' ? '; unprivileged allowed' : '; unprivileged disabled (kernel.unprivileged_userns_clone = 0)';
  return { name: 'user namespaces', status: 'ok', detail: `up to ${maxUserNamespaces}${unprivileged}` };
}

export function checkNetworking(): Check {
  const ip = toolVersion('ip', ['-V']);
  const iptables = toolVersion('iptables', ['-V']);
  const modules = ['bridge', 'veth'].filter((name) => !kernelModuleAvailable(name));
  const missing = [...(ip ? [] : ['ip (iproute2)']), ...(iptables ? [] : ['iptables']), ...modules.map((name) => `${name} module`)];
  const detail = [ip, iptables].filter(Boolean).join('; ') || 'no tools';
  return missing.length === 0
    ? { name: 'networking', status: 'ok', detail: `${detail}; bridge and veth modules available` }
    : { name: 'networking', status: 'warn', detail: `missing: ${missing.join(', ')}`, fix: 'apt-get install iproute2 iptables (modules: your kernel\'s modules package); needed for bridge networking' };
}

/** Only for people who work on minibox itself: its test suite's real registry and image tools. */
export function checkTestTools(found = (tool: string) => toolVersion(tool, ['--version']) !== undefined): Check {
  const tools = ['docker-registry', 'skopeo', 'umoci'];
  const missing = tools.filter((tool) => !found(tool));
  return missing.length === 0
    ? { name: 'test suite tools', status: 'ok', detail: 'a local registry (docker-registry), skopeo and umoci are installed: `npm test` can run' }
    : {
      name: 'test suite tools', status: 'ok',
      detail: `not installed (${missing.join(', ')}): minibox does not need them, only its own test suite (bash scripts/provision.sh)`,
    };
}

/** True when libseccomp.so.2 loads (the runtime compiles Docker's profile with it). */
function libseccompLoads(): boolean {
  try {
    declareSeccompCalls();
    return true;
  } catch {
    return false;
  }
}

/**
 * seccomp: the kernel's filter mode (/proc/sys/kernel/seccomp/actions_avail lists what filters may
 * answer) and libseccomp2. Without either, only `--security-opt seccomp=unconfined` runs.
 */
export function checkSeccomp(actions = readText('/proc/sys/kernel/seccomp/actions_avail'), library = libseccompLoads()): Check {
  const fix = 'containers get Docker\'s seccomp profile by default; until this is fixed, only --security-opt seccomp=unconfined runs';
  if (actions === undefined || !/\berrno\b/.test(actions)) {
    return { name: 'seccomp', status: 'fail', detail: 'the kernel has no seccomp filter mode (CONFIG_SECCOMP_FILTER)', fix };
  }
  if (!library) return { name: 'seccomp', status: 'fail', detail: 'libseccomp.so.2 is missing', fix: `apt-get install libseccomp2; ${fix}` };
  return { name: 'seccomp', status: 'ok', detail: `filter actions: ${actions.trim()}; libseccomp.so.2 loads` };
}

/**
 * Can the state root hold containers' writable layers? On another overlay (a container's root,
 * some CI sandboxes), NFS or FAT, `pull` works but `run` fails with EINVAL (upper-filesystem.ts).
 */
export function checkStateRootFilesystem(root: string, fstype = filesystemOf(root)): Check {
  const problem = upperFilesystemProblem(root, fstype);
  return problem
    ? { name: 'state root', status: 'fail', detail: `${root} is on ${fstype}`, fix: problem }
    : { name: 'state root', status: 'ok', detail: `${root} is on ${fstype ?? 'an unknown file system'}, which can hold overlay upper dirs` };
}

/** Every check, in the order they are printed. */
export function runChecks(stateRoot = resolveStateRoot()): Check[] {
  return [checkPrivileges(), checkKernel(), checkOverlay(), checkStateRootFilesystem(stateRoot), checkNamespaces(), checkCgroups(),
    checkUserNamespaces(), checkSeccomp(), checkNetworking(), checkTestTools()];
}

/**
 * runChecks() with the one-line networking check replaced by the detailed ones of
 * src/network/doctor.ts (kernel drivers, ip, iptables and its nat table, nsenter). They warn
 * rather than fail: `--network none` and `host` work without them.
 */
export async function runChecksWithNetworking(stateRoot = resolveStateRoot()): Promise<Check[]> {
  const details = (await detailedNetworkChecks()).map((check): Check => check.ok
    ? { name: `network: ${check.name}`, status: 'ok', detail: check.detail }
    : { name: `network: ${check.name}`, status: 'warn', detail: check.detail, fix: 'needed for bridge networking (the default); --network none and host work without it' });
  // The detailed lines replace the one-line summary: each fact is said once.
  return runChecks(stateRoot).flatMap((check) => (check.name === 'networking' ? details : [check]));
}

/**
 * The running containers of `root` whose network was taken away (network/endpoint-health.ts):
 * a warning naming each, with `restart` as the fix. Reconciles the records first, as `ps` does.
 */
export async function checkContainerNetworks(root: StateRoot): Promise<Check> {
  if (!fs.existsSync(root.containers)) return { name: 'container networks', status: 'ok', detail: `no containers in ${root.dir}` };
  let running: Awaited<ReturnType<typeof reconcileAll>>;
  let lost: Awaited<ReturnType<typeof lostNetworks>>;
  try {
    running = (await reconcileAll(root)).filter((record) => record.State.Running);
    lost = await lostNetworks(root, running.map((record) => record.Id));
  } catch (error) {
    return { name: 'container networks', status: 'warn', detail: `cannot read ${root.dir}: ${(error as Error).message}`, fix: 'run doctor as root' };
  }
  if (lost.length === 0) return { name: 'container networks', status: 'ok', detail: `${running.length} running, none cut off` };
  const name = (id: string) => running.find((record) => record.Id === id)?.Name.slice(1) ?? id.slice(0, 12);
  return {
    name: 'container networks', status: 'warn',
    detail: lost.map((l) => `${name(l.containerId)} lost network ${l.network} (${l.reason})`).join('; '),
    fix: `minibox restart ${[...new Set(lost.map((l) => name(l.containerId)))].join(' ')}`,
  };
}

/** `run` works when no check failed (warnings only take features away). */
export function readyToRun(checks: Check[]): boolean {
  return checks.every((check) => check.status !== 'fail');
}
