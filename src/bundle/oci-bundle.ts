/**
 * oci-bundle.ts — the OCI runtime bundle: a directory with `config.json` and a root file system.
 *
 * config.json (opencontainers/runtime-spec, config.md and config-linux.md) says everything about
 * one container: `root` (where its file system is), `process` (args, env, cwd, user,
 * capabilities, terminal), `hostname`, `mounts` (in order), and `linux` (namespaces, devices,
 * masked and read-only paths, sysctls, the seccomp filter). Any OCI runtime — runc, crun,
 * youki, minibox — can start the same bundle. Only the fields minibox reads are typed here, and
 * this file is the only one that reads or writes config.json: the runtime with `readBundle`
 * (checked for running), the engine with `readSpec` and `writeSpec` (create, update, exec, diff,
 * inspect).
 *
 * Try: `cd $(mktemp -d) && runc spec && grep -A2 '"args"' config.json` → `"sh"`
 * (runc's default config.json, to read next to this file: it runs `sh` on a terminal).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LinuxResources } from '../cgroups/limits.js';
import { MiniboxError } from '../errors.js';

export interface SpecUser { uid: number; gid: number; umask?: number; additionalGids?: number[] }

export interface SpecCapabilities {
  bounding?: string[]; effective?: string[]; inheritable?: string[]; permitted?: string[]; ambient?: string[];
}

export interface SpecProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: SpecUser;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: SpecCapabilities;
  noNewPrivileges?: boolean;
}

export interface SpecMount { destination: string; type?: string; source?: string; options?: string[] }

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface SpecDevice { type: 'c' | 'b' | 'u' | 'p'; path: string; major?: number; minor?: number; fileMode?: number; uid?: number; gid?: number }

/** One argument test of a seccomp rule; for SCMP_CMP_MASKED_EQ `value` is the mask, `valueTwo` the result. */
export interface SpecSeccompArg { index: number; value: number; valueTwo?: number; op: string }

export interface SpecSyscall { names: string[]; action: string; errnoRet?: number; args?: SpecSeccompArg[] }

/** config-linux.md "Seccomp": the filter the runtime loads last before execve. */
export interface SpecSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: SpecSyscall[];
}

/** config-linux.md "User namespace mappings": ids containerID…+size-1 inside are hostID… outside. */
export interface SpecIdMapping { containerID: number; hostID: number; size: number }

export interface SpecLinux {
  namespaces?: { type: NamespaceType; path?: string }[];
  /** With a `user` namespace (minibox-runc only: runtime/user-namespace.ts). */
  uidMappings?: SpecIdMapping[];
  gidMappings?: SpecIdMapping[];
  devices?: SpecDevice[];
  maskedPaths?: string[];
  readonlyPaths?: string[];
  sysctl?: Record<string, string>;
  rootfsPropagation?: string;
  /** Control groups (config-linux.md "Control groups"): limits the engine writes to cgroup v2. */
  resources?: LinuxResources;
  /** System calls the process may make (absent: no filter, as `--security-opt seccomp=unconfined`). */
  seccomp?: SpecSeccomp;
}

/** config.md "POSIX-platform Hooks": a program, its argv (args[0] included), env and timeout in seconds. */
export interface SpecHook { path: string; args?: string[]; env?: string[]; timeout?: number }

export type HookPoint = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

export type SpecHooks = Partial<Record<HookPoint, SpecHook[]>>;

export interface RuntimeSpec {
  ociVersion: string;
  root: { path: string; readonly?: boolean };
  process: SpecProcess;
  hostname?: string;
  mounts?: SpecMount[];
  linux?: SpecLinux;
  annotations?: Record<string, string>;
  /** Run by the OCI front door (src/oci/) and, for createContainer/startContainer, the init stage. */
  hooks?: SpecHooks;
}

/** Annotations minibox's engine sets so the runtime mounts the overlay root itself. */
export const OVERLAY_ANNOTATIONS = {
  lowerdir: 'org.minibox.overlay.lowerdir',
  upperdir: 'org.minibox.overlay.upperdir',
  workdir: 'org.minibox.overlay.workdir',
  /** "true": mount the overlay `volatile` — a `--rm` container's writable layer (rootfs.ts). */
  volatile: 'org.minibox.overlay.volatile',
} as const;

/**
 * Where the runtime may keep compiled seccomp programs, by hash of `linux.seccomp`
 * (runtime/process/syscall-filter.ts); the engine points it into its state root.
 */
export const SECCOMP_CACHE_ANNOTATION = 'org.minibox.seccomp.cache';

/** The path of a bundle's runtime spec. */
export function specFile(bundleDir: string): string {
  return path.join(bundleDir, 'config.json');
}

/** A bundle's `config.json`, typed, as written (no checks: the engine reads its own bundles). */
export function readSpec(bundleDir: string): RuntimeSpec {
  const file = specFile(bundleDir);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as RuntimeSpec;
  } catch (error) {
    throw new MiniboxError(`cannot read bundle config ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** Writes a bundle's `config.json` atomically (a temp file renamed over it): never half a spec. */
export function writeSpec(bundleDir: string, spec: RuntimeSpec): void {
  const file = specFile(bundleDir);
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(spec, null, 2)}\n`);
  fs.renameSync(temporary, file);
}

/**
 * Reads and checks `config.json` for running it; `rootfs` is returned as an absolute path. A user
 * namespace is only for the OCI front door and the init stage it starts (`userNamespace: true`):
 * the engine's own start paths cannot make one (runtime/user-namespace.ts).
 */
export function readBundle(bundleDir: string, { userNamespace = false } = {}): { spec: RuntimeSpec; rootfs: string } {
  const file = specFile(bundleDir);
  const spec = readSpec(bundleDir);
  if (!spec.root?.path) throw new Error(`${file}: root.path is missing`);
  if (!spec.process?.args?.length) throw new Error(`${file}: process.args is empty — there is no command to run`);
  if (!spec.process.cwd?.startsWith('/')) throw new Error(`${file}: process.cwd must be an absolute path`);
  const joinable = ['pid', 'network', 'mount', 'ipc', 'uts', 'cgroup', ...(userNamespace ? ['user'] : [])];
  const joined = spec.linux?.namespaces?.find((ns) => ns.path && !joinable.includes(ns.type));
  if (joined) throw new Error(`${file}: joining an existing ${joined.type} namespace (namespaces[].path) is not supported by minibox`);
  if (!userNamespace && spec.linux?.namespaces?.some((ns) => ns.type === 'user')) {
    throw new Error(`${file}: user namespaces are only supported by minibox-runc (docs/oci-runtime.md), not by minibox run`);
  }
  return { spec, rootfs: path.resolve(bundleDir, spec.root.path) };
}
