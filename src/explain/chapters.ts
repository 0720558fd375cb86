/**
 * chapters.ts — which chapter of a container's life each kernel step belongs to.
 *
 * A container is born in the same order every time, and the course teaches it in that order:
 *   1 image        the layers on disk (pull: manifest, blobs, digests, unpack)
 *   2 namespaces   its own view of the system: PID, MNT, UTS, IPC, NET (setns to join them)
 *   3 cgroups      limits on memory, CPU and processes
 *   4 network      a bridge, a veth pair, NAT and port rules
 *   5 file system  the image layers + the writable layer become `/` (overlay, pivot_root)
 *   6 security     capabilities kept, no_new_privs, seccomp, a keyring of its own
 *   7 the program  the user it runs as, then execve; later its signals and its exit
 * Every command's narration (`run`, `exec`, `stop`, `rm`, `pull`, `network create`, `update`)
 * uses these chapters, so a student meets each concept under the same number every time.
 * `--trace FILE` writes the chapter of each event as its `phase`.
 *
 * Calls that only serve the others (opening an fd with openat2, closing it, taking a lock) are
 * bookkeeping: `--explain=all` and `--trace` show them, the story leaves them out.
 *
 * Try: `minibox run --rm --trace t.json busybox true && grep -o '"phase":"file system"' t.json | head -1`
 * → `"phase":"file system"`
 */
import type { SysEvent } from '../sys/trace.js';
import { isWhiteout } from './image-steps.js';
import { securityWarnings } from './narrate.js';

export const CHAPTERS = ['image', 'namespaces', 'cgroups', 'network', 'file system', 'security', 'the program'] as const;
export type Chapter = typeof CHAPTERS[number];

/** What each chapter's heading says after its name. */
export const CHAPTER_TITLES: Record<Chapter, string> = {
  image: 'the layers on disk',
  namespaces: 'its own view of the system',
  cgroups: 'limits on memory, CPU and processes',
  network: 'interfaces, addresses, firewall',
  'file system': 'layers, mounts and its /',
  security: 'what root inside may do',
  'the program': 'its user, its process, its end',
};

/** The chapter's number in the story (1–7). */
export function chapterNumber(chapter: Chapter): number {
  return CHAPTERS.indexOf(chapter) + 1;
}

/** Calls the story leaves out: they only serve the steps it tells (fds, locks, compiling filters). */
const BOOKKEEPING = new Set([
  'openat2', 'openat', 'close', 'mkdirat', 'unlinkat', 'symlinkat', 'flock', 'open_tree', 'fcntl', 'signal',
  'capget', 'memfd_create', 'seccomp_init', 'seccomp_arch_add', 'seccomp_rule_add', 'namespaces-ready',
  'lgetxattr', 'llistxattr', 'lsetxattr', 'dup2', 'setsid', 'socket', 'connect', 'fchownat', 'fchdir',
  'pidfd_open', 'poll',
]);

export function isBookkeeping(event: SysEvent): boolean {
  if (BOOKKEEPING.has(event.call)) return true;
  if (event.call === 'prctl') return event.args.option === 'PR_SET_KEEPCAPS' || (event.args.option === 'PR_CAP_AMBIENT' && !event.args.raise);
  if (event.call === 'keyctl') return event.args.operation !== 'KEYCTL_JOIN_SESSION_KEYRING';
  if (event.call === 'ioctl') return event.args.request === 'TIOCSPTLCK' || event.args.request === 'SIOCGIFFLAGS';
  // config.json's defences, published before the start: only their absence is worth a line.
  if (event.call === 'spec.security') return securityWarnings(event.args).length === 0;
  return false;
}

const BY_CALL: Record<string, Chapter> = {
  'spawn-init': 'namespaces', 'spawn-exec': 'namespaces', setns: 'namespaces', 'namespaces-ready': 'namespaces',
  sethostname: 'namespaces', sysctl: 'namespaces',
  mount: 'file system', umount2: 'file system', pivot_root: 'file system', mknod: 'file system', mount_setattr: 'file system',
  move_mount: 'file system', open_tree: 'file system', openat2: 'file system', openat: 'file system', mkdirat: 'file system',
  unlinkat: 'file system', symlinkat: 'file system', close: 'file system', lgetxattr: 'file system', llistxattr: 'file system',
  lsetxattr: 'file system', 'container.files': 'file system', chroot: 'file system', fchownat: 'file system', fchdir: 'file system',
  prctl: 'security', 'skip-ambient': 'security', capset: 'security', capget: 'security', keyctl: 'security', seccomp: 'security',
  seccomp_export_bpf: 'security', 'seccomp.cache': 'security', seccomp_init: 'security', seccomp_arch_add: 'security',
  seccomp_rule_add: 'security', memfd_create: 'security', 'spec.security': 'security', close_range: 'the program',
  setgroups: 'the program', setresgid: 'the program', setresuid: 'the program', chdir: 'the program', ioctl: 'the program',
  execve: 'the program', fcntl: 'the program', signal: 'the program', pipe2: 'the program', dup2: 'the program',
  setsid: 'the program', flock: 'the program', 'monitor-pty': 'the program', pidfd_open: 'the program', poll: 'the program',
};

const BY_PREFIX: [string, Chapter][] = [
  ['pull.', 'image'], ['push.', 'image'], ['image.', 'image'], ['cgroup.', 'cgroups'], ['net.', 'network'],
  ['process.', 'the program'],
];

/** The chapter an event belongs to. */
export function chapterOf(event: SysEvent): Chapter {
  if (isWhiteout(event)) return 'image'; // unpack writes it into a layer
  // Mount propagation is the mount namespace's: `--make-rprivate /` is told with it.
  if (event.call === 'mount' && event.args.target === '/' && event.args.flags === 'MS_REC|MS_PRIVATE') return 'namespaces';
  // An interface's flags (lo up, network/loopback): the network's, whoever makes the call.
  if (event.call === 'ioctl' && String(event.args.request).startsWith('SIOC')) return 'network';
  if (event.call === 'unshare') {
    return event.args.flags === 'CLONE_NEWCGROUP' ? 'cgroups' : 'namespaces';
  }
  const byCall = BY_CALL[event.call];
  if (byCall) return byCall;
  for (const [prefix, chapter] of BY_PREFIX) if (event.call.startsWith(prefix)) return chapter;
  return 'the program';
}
