/**
 * resolve-in-root.ts — the one way minibox resolves a path *inside* a root directory (an image
 * layer being unpacked, a stack of layers, a container's rootfs), never leaving it.
 *
 * An image is untrusted input: it may ship `/etc -> /host-secret` or `lib -> ../../..`, and a
 * container may swap such symlinks in a volume while minibox works. A naive
 * `path.join(root, '/etc/hosts')` follows them onto the host. The rule, from chroot and from
 * umoci's/runc's securejoin: a symlink's target is resolved again *as if the root were `/`* — an
 * absolute target restarts at the root, `..` stops at it — and more than 40 links (the kernel's
 * MAXSYMLINKS) is a loop.
 *
 * Two implementations of that one rule, as in crun's safe_openat:
 *   openInRoot  the kernel does it: openat2(2) with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS from
 *               an fd of the root, atomically, returning an fd (usually O_PATH). Used where another
 *               process may be changing the tree: the runtime's mount targets. Only where openat2
 *               is missing (Linux < 5.6: ENOSYS) does it fall back to the walk below.
 *   walkInRoot  the same rule in user space, one component at a time, with a `look` callback
 *               that says what each name is. Used where only this process writes (unpacking a
 *               layer into a fresh private directory: one lstat per component, no fd to manage —
 *               16k files stay fast) or where the "tree" is not one directory at all (a stack
 *               of layers, bundle/layer-view.ts).
 *
 * Try: `minibox run -d --name web busybox sh -c 'echo app:x:4242:4242::/:/bin/sh > /tmp/pw; rm
 * /etc/passwd; ln -s /../../../../tmp/pw /etc/passwd; sleep 60' >/dev/null; sleep 1; minibox exec
 * -u app web id` → `uid=4242` (`..` at the container's root stays there, as for the kernel inside).
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysError } from './sys/errno.js';
import { O, openat2, RESOLVE } from './sys/openat2.js';

/** The kernel's own limit on symlinks followed while resolving one path (MAXSYMLINKS). */
export const MAX_SYMLINK_HOPS = 40;

/** What `look` found at one name, and so what the walk does next. */
export type WalkStep =
  | { kind: 'enter' } //                 keep the name (a directory, or the last component as it is)
  | { kind: 'symlink'; target: string } // follow it, inside the root
  | { kind: 'stop' }; //                  the path leads nowhere: the walk returns undefined

/**
 * The securejoin walk. `look(resolved, name, isLast)` is asked about each name in turn, with the
 * components resolved so far (never containing a symlink). Returns the resolved components, or
 * undefined when `look` stopped the walk. Throws `tooManyLinks()` after MAX_SYMLINK_HOPS links.
 */
export function walkInRoot(
  components: readonly string[],
  look: (resolved: readonly string[], name: string, isLast: boolean) => WalkStep,
  tooManyLinks: () => Error,
): string[] | undefined {
  const pending = [...components];
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      resolved.pop(); // `..` at the root stays at the root, as in chroot
      continue;
    }
    const isLast = pending.every((rest) => rest === '' || rest === '.');
    const step = look(resolved, name, isLast);
    if (step.kind === 'stop') return undefined;
    if (step.kind === 'enter') {
      resolved.push(name);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) throw tooManyLinks();
    if (step.target.startsWith('/')) resolved.length = 0; // absolute targets restart at the root
    pending.unshift(...step.target.split('/'));
  }
  return resolved;
}

/** lstat, or undefined when nothing is there — asked without an exception (~30 µs each, thrown). */
function lstatOrUndefined(file: string): fs.Stats | undefined {
  return fs.lstatSync(file, { throwIfNoEntry: false });
}

/**
 * The host path that `containerPath` names inside `root`, with every symlink kept inside `root`
 * (the last one too). A missing component ends the lookup: the rest is taken literally.
 * For reading files of a tree no one else is changing; anything another process may race uses
 * openInRoot.
 */
export function resolveInRoot(root: string, containerPath: string): string {
  let missing = false;
  const resolved = walkInRoot(containerPath.split('/'), (done, name) => {
    if (missing) return { kind: 'enter' };
    const stat = lstatOrUndefined(path.join(root, ...done, name));
    if (stat === undefined) missing = true; // does not exist (yet): the rest is literal
    else if (stat.isSymbolicLink()) return { kind: 'symlink', target: fs.readlinkSync(path.join(root, ...done, name)) };
    return { kind: 'enter' };
  }, () => new Error(`too many symbolic links resolving ${containerPath} in ${root}`));
  return path.join(root, ...(resolved ?? []));
}

/** A directory opened as the `/` of later lookups: its fd, and its path for messages and the fallback. */
export interface RootDir {
  fd: number;
  path: string;
}

/** Opens `dir` as a RootDir (O_PATH: it cannot be read through, only resolved from). */
export function openRootDir(dir: string): RootDir {
  return { fd: fs.openSync(dir, O.PATH | O.DIRECTORY | O.CLOEXEC), path: dir };
}

let hasOpenat2: boolean | undefined;

/**
 * Opens `containerPath` inside `root` (symlinks followed, inside the root) and returns the fd.
 * `flags` are open(2) flags, usually O_PATH. Throws SysError (ENOENT when it does not exist).
 */
export function openInRoot(root: RootDir, containerPath: string, flags: number): number {
  const relative = containerPath.replace(/^\/+/, '') || '.';
  for (let attempt = 0; hasOpenat2 !== false; attempt++) {
    try {
      const fd = openat2(root.fd, relative, flags | O.CLOEXEC, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS, containerPath);
      hasOpenat2 = true;
      return fd;
    } catch (error) {
      // EAGAIN: a rename raced a `..` in the lookup; the kernel asks us to simply try again.
      if (error instanceof SysError && error.code === 'EAGAIN' && attempt < 16) continue;
      if (!(error instanceof SysError && error.code === 'ENOSYS')) throw error;
      hasOpenat2 = false;
    }
  }
  // Linux < 5.6: the user-space walk, then an open that at least refuses a symlink at the end.
  // (A racing rename of a parent between the two is the window openat2 closes.)
  return fs.openSync(resolveInRoot(root.path, containerPath), flags | O.NOFOLLOW | O.CLOEXEC);
}
