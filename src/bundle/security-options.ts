/**
 * security-options.ts — `--security-opt` and `--privileged`: which defences a container gives up.
 *
 *   seccomp=unconfined      no seccomp filter: every system call reaches the kernel.
 *   seccomp=PROFILE.json    Docker's profile format instead of the default (seccomp-profile.ts);
 *   seccomp=builtin         the default profile, said explicitly.
 *   no-new-privileges[=true|false]
 *                           PR_SET_NO_NEW_PRIVS. Docker sets it *only* with this option. minibox is
 *                           stricter: it sets it unless told `no-new-privileges=false` (or
 *                           --privileged), so a setuid binary in an image cannot raise privileges.
 *   --privileged            every capability, no seccomp filter, no masked or read-only kernel
 *                           files, /sys and the cgroup tree writable, and every device node of the
 *                           host's /dev. Root in such a container is root on the host (it can
 *                           mount the host's disk, load a kernel module): use it for tools that
 *                           manage the machine, never for code you do not trust.
 * The values are parsed as Docker's CLI does (`key=value`, or the older `key:value`); a profile
 * file is read here, on the engine's side, so a typo fails before anything is created.
 *
 * Try: `minibox run --rm --security-opt seccomp=unconfined busybox grep Seccomp: /proc/self/status`
 * → `Seccomp: 0` (without the option: 2, a filter).
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { SpecDevice, SpecSeccomp } from './oci-bundle.js';
import { CAPABILITY_NUMBERS, DEFAULT_DEVICES } from './docker-defaults.js';
import { dockerDefaultProfile, readProfileFile, specSeccompFromProfile, type DockerSeccompProfile } from './seccomp-profile.js';

export interface SecurityOptions {
  /** 'default' = Docker's profile, 'unconfined' = no filter, or a profile from a file. */
  seccomp: 'default' | 'unconfined' | { file: string; profile: DockerSeccompProfile };
  /** Set explicitly with `no-new-privileges[=…]`; undefined = minibox's default (true). */
  noNewPrivileges?: boolean;
  privileged: boolean;
}

function parseBoolean(value: string, option: string): boolean {
  if (/^(1|t|true)$/i.test(value)) return true;
  if (/^(0|f|false)$/i.test(value)) return false;
  throw new UsageError(`invalid --security-opt ${option}: ${value} is not true or false`);
}

/** Parses every `--security-opt` value; throws a one-line UsageError (exit 125) on a bad one. */
export function parseSecurityOptions(values: string[], privileged = false): SecurityOptions {
  const options: SecurityOptions = { seccomp: 'default', privileged };
  for (const option of values) {
    let [key, value] = splitOnce(option, '=');
    if (value === undefined && key !== 'no-new-privileges') [key, value] = splitOnce(option, ':');
    if (key === 'no-new-privileges') {
      options.noNewPrivileges = value === undefined ? true : parseBoolean(value, option);
      continue;
    }
    if (value === undefined || value === '') throw new UsageError(`invalid --security-opt: "${option}"`);
    if (key === 'seccomp') {
      options.seccomp = value === 'unconfined' ? 'unconfined'
        : value === 'builtin' ? 'default'
          : { file: value, profile: readProfileFile(value) };
      continue;
    }
    throw new UsageError(`--security-opt ${key} is not supported by minibox (it knows seccomp=… and no-new-privileges)`);
  }
  return options;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/**
 * config.json's `linux.seccomp`: none for unconfined or --privileged (as Docker: a privileged
 * container is unconfined unless a profile file is named), else the profile resolved against the
 * container's bounding set.
 */
export function specSeccomp(options: SecurityOptions, capabilities: string[]): SpecSeccomp | undefined {
  if (options.seccomp === 'unconfined' || (options.privileged && options.seccomp === 'default')) return undefined;
  const profile = options.seccomp === 'default' ? dockerDefaultProfile() : options.seccomp.profile;
  return specSeccompFromProfile(profile, { capabilities });
}

/**
 * --privileged: every capability this kernel knows that minibox itself still holds in its bounding
 * set (as moby's GetAllCapabilities: a capability dropped from the host's bounding set cannot be
 * given back; asking for it would make capset fail).
 */
export function privilegedCapabilities(status = fs.readFileSync('/proc/self/status', 'utf8')): string[] {
  const bounding = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`);
  return Object.entries(CAPABILITY_NUMBERS)
    .filter(([, bit]) => (bounding & (1n << BigInt(bit))) !== 0n)
    .sort(([, a], [, b]) => a - b)
    .map(([name]) => name);
}

/** Directories of /dev that hold no device a container should get (libcontainer's GetDevices). */
const SKIPPED_IN_DEV = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev', 'console', 'ptmx']);

/** --privileged: every character and block device node of the host's /dev, as linux.devices. */
export function hostDevices(dir = '/dev'): SpecDevice[] {
  const defaults = new Set(DEFAULT_DEVICES.map((device) => device.path));
  const devices: SpecDevice[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED_IN_DEV.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) devices.push(...hostDevices(full));
    if (!(entry.isCharacterDevice() || entry.isBlockDevice()) || defaults.has(full)) continue;
    const stat = fs.statSync(full);
    devices.push({
      type: entry.isBlockDevice() ? 'b' : 'c', path: full, fileMode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid,
      major: Math.floor(stat.rdev / 256) & 0xfff, minor: (stat.rdev & 0xff) | (Math.floor(stat.rdev / 4096) & 0xfff00),
    });
  }
  return devices;
}

/** no_new_privs for the spec: the option if given; else off for --privileged, on otherwise. */
export function noNewPrivileges(options: SecurityOptions): boolean {
  return options.noNewPrivileges ?? !options.privileged;
}
