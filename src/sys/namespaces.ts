/**
 * namespaces.ts — unshare(2) and setns(2), the calls that give a process its own view of the system.
 *
 * A namespace wraps one global resource so that processes inside see their own copy:
 *   CLONE_NEWNS     the mount table          CLONE_NEWUTS  hostname and domain name
 *   CLONE_NEWIPC    System V IPC, mqueues    CLONE_NEWNET  network devices, addresses, ports
 *   CLONE_NEWPID    process numbers          CLONE_NEWCGROUP the visible cgroup tree root
 *   CLONE_NEWUSER   user and group ids
 * unshare() moves the calling process into new namespaces — except CLONE_NEWPID, which only
 * affects the *next child*: it becomes PID 1 of the new PID namespace. setns() joins a namespace
 * another process already has, through its /proc/PID/ns/* file.
 *
 * Try: `readlink /proc/self/ns/uts; minibox run --rm busybox readlink /proc/self/ns/uts` → `uts:[`
 * (two lines, two different inode numbers).
 */
import { libc } from './libc.js';
import { flagNames, invoke } from './call.js';

export const CLONE = {
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
  FS: 0x00000200,
  FILES: 0x00000400,
} as const;

export const cloneFlagNames: Record<string, number> = Object.fromEntries(
  Object.entries(CLONE).map(([k, v]) => [`CLONE_${k}`, v]),
);

/** unshare(2): leave the namespaces named by `flags` for new, private ones. */
export function unshare(flags: number): void {
  invoke('unshare', { flags: flagNames(flags, cloneFlagNames) }, () => libc.unshare()(flags), {
    what: flagNames(flags, cloneFlagNames),
    hint: (code) => (code === 'EINVAL' && flags & CLONE.NEWUSER
      ? 'a multithreaded process (like Node) cannot create a user namespace'
      : code === 'EPERM' ? 'creating namespaces needs root (CAP_SYS_ADMIN)' : undefined),
  });
}

/** setns(2): join the namespace behind the open file descriptor `fd` (from /proc/PID/ns/*). */
export function setns(fd: number, nstype: number, what = `fd ${fd}`): void {
  invoke('setns', { fd, nstype: flagNames(nstype, cloneFlagNames), what }, () => libc.setns()(fd, nstype), {
    what,
    hint: (code) => (code === 'EINVAL' && nstype === CLONE.NEWNS
      ? 'a multithreaded process must unshare(CLONE_FS) before joining a mount namespace'
      : undefined),
  });
}

/** sethostname(2): names the machine — only inside the caller's UTS namespace. */
export function sethostname(name: string): void {
  invoke('sethostname', { name }, () => libc.sethostname()(name, Buffer.byteLength(name)), { what: name });
}
