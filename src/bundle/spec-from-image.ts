/**
 * spec-from-image.ts — from an image config and `minibox run` flags to an OCI runtime spec (config.json).
 *
 * The image says how it *wants* to run (Entrypoint, Cmd, Env, WorkingDir, User); the flags
 * override that; the engine adds what every Docker container gets. The rules are Docker's:
 *   command   `--entrypoint X` replaces the image Entrypoint *and drops the image Cmd*;
 *             COMMAND args replace Cmd; `--entrypoint ''` means "no entrypoint";
 *             the process runs Entrypoint + Cmd, and an empty result is an error.
 *   env       PATH (default) and HOSTNAME, TERM=xterm with -t, then the image Env, then
 *             --env-file lines, then -e (later wins), then HOME from the image's passwd.
 *   isolation new pid, mount, uts, ipc, cgroup namespaces, and net unless `--network host`;
 *             14 capabilities (--cap-add/--cap-drop adjust), Docker's seccomp profile, kernel
 *             paths in /proc and /sys masked or read-only, and a fresh /proc, /dev, /dev/pts,
 *             /dev/shm, /dev/mqueue and read-only /sys. `--privileged` undoes all but the
 *             namespaces (security-options.ts).
 *   no_new_privs  Docker sets it only with `--security-opt no-new-privileges`; minibox sets it
 *             by default, a stricter choice (`no-new-privileges=false` turns it off).
 *
 * Spec: opencontainers/runtime-spec config.md and config-linux.md.
 *
 * Try: `minibox run --rm --entrypoint echo busybox hi` → `hi`, and `minibox run --name box busybox
 * && find $MINIBOX_ROOT/containers -name config.json | xargs grep -A3 '"args"'` → `"/bin/sh"` (the
 * image's Cmd, in the spec).
 */
import fs from 'node:fs';
import { MiniboxError, NotFoundError, UsageError } from '../errors.js';
import { findNetwork } from '../network/networks.js';
import type { StateRoot } from '../state-root.js';
import type { ContainerConfig } from '../image/oci.js';
import { CAPABILITY_NUMBERS, DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from './docker-defaults.js';
import {
  OVERLAY_ANNOTATIONS, type NamespaceType, type RuntimeSpec, type SpecDevice, type SpecMount, type SpecSeccomp, type SpecUser,
} from './oci-bundle.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** `none`, `host`, `bridge` (the default network) or the name of a user network. */
export type NetworkMode = 'none' | 'host' | 'bridge' | (string & {});

// ---- command ------------------------------------------------------------------------------

/** The process argv: Docker's Entrypoint/Cmd rules (see the header). */
export function containerArgv(image: ContainerConfig, entrypoint: string | undefined, command: string[]): { entrypoint: string[]; cmd: string[]; argv: string[] } {
  let entry: string[];
  let cmd: string[];
  if (entrypoint !== undefined) {
    entry = entrypoint === '' ? [] : [entrypoint];
    cmd = command; // a new entrypoint never inherits the image's Cmd
  } else {
    entry = image.Entrypoint ?? [];
    cmd = command.length > 0 ? command : image.Cmd ?? [];
  }
  const argv = [...entry, ...cmd];
  if (argv.length === 0) throw new MiniboxError('no command specified');
  return { entrypoint: entry, cmd, argv };
}

// ---- environment --------------------------------------------------------------------------

function keyOf(entry: string): string {
  const equals = entry.indexOf('=');
  return equals < 0 ? entry : entry.slice(0, equals);
}

/** Sets or replaces `KEY=…` entries in order, as Docker's ReplaceOrAppendEnvValues does. */
function replaceOrAppend(base: string[], overrides: string[]): string[] {
  const result = [...base];
  for (const entry of overrides) {
    const index = result.findIndex((existing) => keyOf(existing) === keyOf(entry));
    if (index >= 0) result[index] = entry;
    else result.push(entry);
  }
  return result;
}

/** One `-e` value: `K=V` as is; bare `K` copies minibox's own value, or is dropped when unset. */
export function expandEnvOption(option: string, hostEnv: NodeJS.ProcessEnv = process.env): string | undefined {
  const key = keyOf(option);
  if (key === '') throw new UsageError(`invalid environment variable: ${option}`);
  if (/\s/.test(key)) throw new UsageError(`invalid environment variable "${key}": variable names cannot contain whitespace`);
  if (option.includes('=')) return option;
  const value = hostEnv[key];
  return value === undefined ? undefined : `${key}=${value}`;
}

/** The lines of an `--env-file`: `K=V` or `K`; `#` comments and blank lines are skipped. */
export function parseEnvFile(text: string, file: string, hostEnv: NodeJS.ProcessEnv = process.env): string[] {
  const entries: string[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    try {
      const entry = expandEnvOption(line, hostEnv);
      if (entry !== undefined) entries.push(entry);
    } catch (error) {
      throw new UsageError(`${file}:${index + 1}: ${(error as Error).message}`);
    }
  }
  return entries;
}

export function readEnvFile(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read env file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return parseEnvFile(text, file);
}

export interface EnvInput {
  imageEnv: string[];
  /** Already expanded `--env-file` then `-e` entries, in command-line order. */
  userEnv: string[];
  hostname: string;
  home: string;
  tty: boolean;
}

export function buildEnvironment({ imageEnv, userEnv, hostname, home, tty }: EnvInput): string[] {
  const base = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname}`, ...(tty ? ['TERM=xterm'] : [])];
  const env = replaceOrAppend(base, replaceOrAppend(imageEnv, userEnv));
  return env.some((entry) => keyOf(entry) === 'HOME') ? env : [...env, `HOME=${home}`];
}

// ---- working directory --------------------------------------------------------------------

export function resolveWorkingDir(option: string | undefined, image: ContainerConfig): string {
  const dir = option ?? (image.WorkingDir || '/');
  if (!dir.startsWith('/')) {
    throw new UsageError(`the working directory '${dir}' is invalid, it needs to be an absolute path`);
  }
  return dir;
}

// ---- capabilities -------------------------------------------------------------------------

function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!(full in CAPABILITY_NUMBERS)) throw new UsageError(`unknown capability: "${name}"`);
  return full;
}

/** Docker's default set adjusted by --cap-add/--cap-drop; `ALL` works on either side. */
export function computeCapabilities(add: string[], drop: string[]): string[] {
  const adds = add.map(normalizeCapability);
  const drops = drop.map(normalizeCapability);
  let caps: string[];
  if (adds.includes('ALL')) caps = Object.keys(CAPABILITY_NUMBERS).filter((cap) => !drops.includes(cap));
  else if (drops.includes('ALL')) caps = adds; // drop everything, keep only what is added back
  else caps = [...DEFAULT_CAPABILITIES.filter((cap) => !drops.includes(cap)), ...adds]; // an add beats a drop
  caps = [...new Set(caps)];
  return caps.sort((a, b) => (CAPABILITY_NUMBERS[a] ?? 0) - (CAPABILITY_NUMBERS[b] ?? 0));
}

// ---- namespaces and default mounts --------------------------------------------------------

/**
 * `--network`: none (only lo), host (no network namespace), bridge/default, or a user network
 * made by `minibox network create` (looked up in `root`; unknown → "network X not found", 125).
 */
export function parseNetworkMode(value: string | undefined, root?: StateRoot): NetworkMode {
  const mode = value ?? 'bridge';
  if (mode === 'default' || mode === 'bridge') return 'bridge';
  if (mode === 'none' || mode === 'host') return mode;
  const network = root ? findNetwork(root, mode) : undefined;
  if (!network) throw new NotFoundError(`network ${mode} not found: use none, host, bridge or a network from \`minibox network ls\``);
  return network.Name;
}

export function namespacesFor(network: NetworkMode): { type: NamespaceType }[] {
  // Every mode but host gets its own network namespace; bridge and user networks are plugged in
  // by the network hooks (network-hooks.ts) while the init stage waits.
  const types: NamespaceType[] = ['pid', 'mount', 'uts', 'ipc', ...(network === 'host' ? [] : ['network' as const]), 'cgroup'];
  return types.map((type) => ({ type }));
}

/** The file systems every Docker container gets (moby oci/defaults.go), in mount order. */
export const DEFAULT_MOUNTS: SpecMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  // The container's own cgroup (its cgroup namespace's root), read-only, as Docker shows it.
  { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'] },
];

/**
 * A bind mount of a host path. `nodev`: a device node inside it (one the container made with
 * mknod, or one already there) cannot be opened — minibox has no device cgroup to allow-list
 * devices, so no writable mount may honour device nodes (see runtime/rootfs/devices.ts).
 */
export function bindMount(source: string, destination: string, readOnly: boolean): SpecMount {
  return { destination, type: 'bind', source, options: ['rbind', 'rprivate', 'nodev', ...(readOnly ? ['ro'] : [])] };
}

/** Parents before children: `/data` must be mounted before `/data/cache`. */
function byDepth(a: SpecMount, b: SpecMount): number {
  return a.destination.split('/').length - b.destination.split('/').length;
}

// ---- the spec -----------------------------------------------------------------------------

export interface SpecInput {
  argv: string[];
  env: string[];
  cwd: string;
  user: SpecUser;
  tty: boolean;
  hostname: string;
  network: NetworkMode;
  readOnlyRootfs: boolean;
  capabilities: string[];
  /** Volumes, binds and tmpfs mounts from the flags. */
  userMounts: SpecMount[];
  /** The container's own hostname, hosts and resolv.conf files (etc-files.ts). */
  etcFiles: { hostname: string; hosts: string; resolvConf: string };
  /** `volatile`: the writable layer is thrown away with the container (`--rm`): never synced (rootfs.ts). */
  overlay: { lowerDirsTopFirst: string[]; upperDir: string; workDir: string; volatile?: boolean };
  /** PR_SET_NO_NEW_PRIVS; minibox's default is true (security-options.ts). */
  noNewPrivileges?: boolean;
  /** The resolved seccomp profile; undefined = unconfined. */
  seccomp?: SpecSeccomp;
  /** --privileged: no masked or read-only paths, writable /sys, the host's devices. */
  privileged?: { devices: SpecDevice[] };
}

/** --privileged: /sys and the cgroup tree lose their `ro` (Docker mounts them read-write). */
function writableForPrivileged(mount: SpecMount): SpecMount {
  const readOnlyKernelFs = mount.type === 'sysfs' || mount.type === 'cgroup';
  return readOnlyKernelFs ? { ...mount, options: (mount.options ?? []).filter((option) => option !== 'ro') } : mount;
}

export function buildRuntimeSpec(input: SpecInput): RuntimeSpec {
  const etcMounts = [
    bindMount(input.etcFiles.resolvConf, '/etc/resolv.conf', false),
    bindMount(input.etcFiles.hostname, '/etc/hostname', false),
    bindMount(input.etcFiles.hosts, '/etc/hosts', false),
  ];
  // A user mount on the same path replaces the default one (e.g. `--tmpfs /dev/shm:size=1g`).
  const taken = new Set(input.userMounts.map((mount) => mount.destination));
  const defaults = [...DEFAULT_MOUNTS, ...etcMounts].filter((mount) => !taken.has(mount.destination))
    .map((mount) => (input.privileged ? writableForPrivileged(mount) : mount));
  const caps = input.capabilities;
  return {
    ociVersion: '1.0.2',
    root: { path: 'rootfs', readonly: input.readOnlyRootfs },
    process: {
      terminal: input.tty,
      user: input.user,
      args: input.argv,
      env: input.env,
      cwd: input.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: input.noNewPrivileges ?? true,
    },
    hostname: input.hostname,
    mounts: [...defaults, ...[...input.userMounts].sort(byDepth)],
    linux: {
      namespaces: namespacesFor(input.network),
      ...(input.privileged
        ? { devices: input.privileged.devices }
        : { maskedPaths: DEFAULT_MASKED_PATHS, readonlyPaths: DEFAULT_READONLY_PATHS }),
      ...(input.seccomp ? { seccomp: input.seccomp } : {}),
    },
    annotations: {
      [OVERLAY_ANNOTATIONS.lowerdir]: input.overlay.lowerDirsTopFirst.join(':'),
      [OVERLAY_ANNOTATIONS.upperdir]: input.overlay.upperDir,
      [OVERLAY_ANNOTATIONS.workdir]: input.overlay.workDir,
      ...(input.overlay.volatile ? { [OVERLAY_ANNOTATIONS.volatile]: 'true' } : {}),
    },
  };
}
