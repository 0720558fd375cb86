/**
 * config-devices.ts — the device nodes an OCI config.json asks for (`linux.devices`), made with
 * mknod(2) as runc makes them: minibox-runc's front door (src/oci/).
 *
 * A device node is a name for a (type, major, minor) triple plus an owner and a mode; mknod(2)
 * makes one anywhere, for any numbers — `c 10:666` needs no driver behind it to exist. runc
 * makes each `linux.devices` entry so in the container's /dev (its owner by chown, its mode with
 * the umask cleared), and the *device cgroup* (`linux.resources.devices`) decides which of them
 * may be opened. The bundle's config is the operator's (containerd, podman, a person) and is
 * trusted as runc trusts it; `minibox run`'s `--device` keeps its own policy (devices.ts: only
 * the host's own nodes, bound in).
 *
 * minibox has no device cgroup: every writable mount is nodev instead (devices.ts). So a node
 * made in /dev would be seen (stat shows its type, numbers, owner, mode) but open nothing. For
 * the nodes `linux.resources.devices` allows — the rule list read as the cgroup reads it: later
 * rules win over earlier ones, no rule means denied, as runc's device emulator — the node is made
 * on a small tmpfs of its own *without* nodev and bind-mounted onto its name in /dev (a bind
 * keeps the flags of the mount it comes from), so these, and only these, open. A denied one is
 * made in /dev itself: present, unopenable (EACCES where runc's cgroup says EPERM).
 *
 * Every name is made inside an fd of its directory, found with openat2(RESOLVE_IN_ROOT): a
 * symlink in the rootfs (`dev -> /dev`) cannot send the node, or the mkdir on the way, onto the
 * host (runc CVE-2024-45310 class: inodes created on the host through a rootfs symlink).
 *
 * Try: `cp -a $BUNDLE b && jq '.process.args=["ls","-l","/dev/test1"] | .linux.devices=[{"path":
 * "/dev/test1","type":"c","major":10,"minor":666,"fileMode":432}]' $BUNDLE/config.json >
 * b/config.json && minibox-runc run --bundle b c1` → `crw-rw---- … 10, 666 … /dev/test1`
 */
import path from 'node:path';
import { closeFd, fchownat, mkdirat, mknodat, O, openat, unlinkatIfExists } from '../../sys/openat2.js';
import { umount, MNT, MS } from '../../sys/mount.js';
import type { SpecDevice } from '../../bundle/oci-bundle.js';
import { openRootDir, type RootDir } from '../../resolve-in-root.js';
import { bindOnto, mountOnto, openMountTarget } from './mount-target.js';

/** One entry of `linux.resources.devices` (config-linux.md "Device allowlist"). */
export interface DeviceRule { allow: boolean; type?: string; major?: number | null; minor?: number | null; access?: string }

/** What runc appends to every container's rules (libcontainer/specconv AllowedDevices): they always open. */
const RUNC_ALLOWED: DeviceRule[] = [[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2], [136, -1], [10, 200]]
  .map(([major, minor]) => ({ allow: true, type: 'c', major, minor, access: 'rwm' }));

/** True when the rule list lets `device` be opened for reading or writing (last match wins). */
export function deviceAllowed(device: SpecDevice, rules: DeviceRule[]): boolean {
  let allowed = false; // runc's emulator starts from "deny all"
  const type = device.type === 'u' ? 'c' : device.type;
  for (const rule of [...rules, ...RUNC_ALLOWED]) {
    const matches = (!rule.type || rule.type === 'a' || rule.type === type)
      && (rule.major === undefined || rule.major === null || rule.major < 0 || rule.major === device.major)
      && (rule.minor === undefined || rule.minor === null || rule.minor < 0 || rule.minor === device.minor);
    const opens = rule.access === undefined || rule.access === '' || /[rw]/.test(rule.access);
    if (matches && opens) allowed = rule.allow; // an `m`-only rule is about mknod, not open
  }
  return allowed;
}

/**
 * In a user namespace no device node can be made (mknod needs CAP_MKNOD on the host), so the
 * host's are bound in (devices.ts) — and a bound node opens: one the rules deny cannot be had.
 */
export function assertDevicesOpen(devices: SpecDevice[], rules: DeviceRule[]): void {
  const denied = devices.find((device) => device.type !== 'p' && !deviceAllowed(device, rules));
  if (denied) {
    throw new Error(`linux.devices ${denied.path}: denied by linux.resources.devices, and in a user namespace a device `
      + 'node can only be the host\'s, bound in (it would open): allow it or leave it out');
  }
}

/** Makes config.json's `linux.devices` under `rootfs` (after /dev is mounted, before pivot_root). */
export function makeConfigDevices(rootfs: string, devices: SpecDevice[], rules: DeviceRule[]): void {
  if (devices.length === 0) return;
  const root = openRootDir(rootfs);
  const umask = process.umask(0); // the mode is fileMode exactly, as runc (umask 0 around mknod)
  try {
    for (const device of devices) makeOne(root, device, deviceAllowed(device, rules));
  } finally {
    process.umask(umask);
    closeFd(root.fd);
  }
}

function makeOne(root: RootDir, device: SpecDevice, opens: boolean): void {
  const where = path.posix.normalize(device.path);
  if (!path.posix.isAbsolute(where) || where === '/') throw new Error(`linux.devices path ${JSON.stringify(device.path)} must be an absolute file path`);
  const dirFd = openMountTarget(root, path.posix.dirname(where), 'dir');
  const name = path.posix.basename(where);
  try {
    unlinkatIfExists(dirFd, name, where);
    if (device.type === 'p' || !opens) makeNode(dirFd, name, device, where); // a fifo is no device: nodev does not apply
    else bindFromOwnTmpfs(dirFd, name, device, where);
  } finally {
    closeFd(dirFd);
  }
}

function makeNode(dirFd: number, name: string, device: SpecDevice, shown: string): void {
  const kind = device.type === 'b' ? 'block' : device.type === 'p' ? 'fifo' : 'char';
  mknodat(dirFd, name, kind, device.fileMode ?? 0o666, device.major ?? 0, device.minor ?? 0, shown);
  fchownat(dirFd, name, device.uid ?? 0, device.gid ?? 0, shown);
}

/**
 * The node on a tmpfs mounted (without nodev) on a scratch directory beside it, then bound onto
 * an empty file at its name; the scratch mount is detached and its directory removed at once.
 */
function bindFromOwnTmpfs(dirFd: number, name: string, device: SpecDevice, shown: string): void {
  const scratch = `.mknod-${name}`;
  mkdirat(dirFd, scratch, 0o700, `${shown} (scratch)`);
  try {
    const mountPoint = openat(dirFd, scratch, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, `${shown} (scratch)`);
    try {
      mountOnto(mountPoint, `${shown} (scratch)`, { source: 'tmpfs', fstype: 'tmpfs', flags: MS.NOSUID | MS.NOEXEC, data: 'size=4k,mode=700' });
    } finally {
      closeFd(mountPoint);
    }
    const ownTmpfs = openat(dirFd, scratch, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, `${shown} (scratch)`); // now the tmpfs
    try {
      makeNode(ownTmpfs, 'node', device, shown);
      const node = openat(ownTmpfs, 'node', O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, shown);
      const target = openat(dirFd, name, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, 0o600, shown);
      try {
        bindOnto({ source: node, shown: { source: `mknod ${device.type} ${device.major}:${device.minor}`, target: shown }, targetFd: target, flags: 0, recursive: false });
      } finally {
        closeFd(target);
        closeFd(node);
      }
      umount(`/proc/self/fd/${ownTmpfs}`, MNT.DETACH);
    } finally {
      closeFd(ownTmpfs);
    }
  } finally {
    unlinkatIfExists(dirFd, scratch, `${shown} (scratch)`);
  }
}
