/**
 * resolve-in-root.ts — turn a container path (`/etc/hostname`) into a host path under the rootfs
 * without ever leaving the rootfs.
 *
 * Before pivot_root, the init stage still sees the host's `/`. An image is untrusted input: if it
 * ships `/etc -> /host-secret` or `/etc -> ../../../etc`, a naive `path.join(rootfs, '/etc/hosts')`
 * followed by mount() would follow the symlink and mount over the *host's* /etc/hosts. Here every
 * component is looked at with lstat; a symlink's target is resolved again *as if the rootfs were
 * `/`* (absolute targets restart at the rootfs, `..` stops at it), like chroot would — the same
 * rule as umoci's and runc's securejoin.
 *
 * A better kernel tool exists: openat2(2) with RESOLVE_IN_ROOT does this atomically.
 * Try: `ln -s /etc rootfs/evil` and mount onto `/evil/passwd` — it lands in rootfs/etc.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MAX_SYMLINK_HOPS } from './image/unpack/layer-path.js';

/** The host path that `containerPath` names inside `root`, with every symlink kept inside `root`. */
export function resolveInRoot(root: string, containerPath: string): string {
  const pending = containerPath.split('/').filter((part) => part !== '' && part !== '.');
  const resolved: string[] = [];
  let symlinks = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '..') {
      resolved.pop(); // `..` at the root stays at the root
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    let stat: fs.Stats | undefined;
    try {
      stat = fs.lstatSync(candidate);
    } catch {
      stat = undefined; // does not exist (yet): the rest is taken literally
    }
    if (stat?.isSymbolicLink()) {
      if (++symlinks > MAX_SYMLINK_HOPS) throw new Error(`too many symbolic links resolving ${containerPath} in ${root}`);
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

/**
 * Makes sure a mount target exists inside `root`: directories are created one component at a
 * time (each resolved safely), and a file target is created empty when a file is bind-mounted.
 */
export function ensureMountTarget(root: string, containerPath: string, kind: 'dir' | 'file'): string {
  const parts = containerPath.split('/').filter((p) => p !== '' && p !== '.');
  let current = '/';
  for (const [index, part] of parts.entries()) {
    current = path.posix.join(current, part);
    const host = resolveInRoot(root, current);
    const last = index === parts.length - 1;
    if (!fs.existsSync(host)) {
      if (last && kind === 'file') fs.writeFileSync(host, '', { mode: 0o644 });
      else fs.mkdirSync(host, { mode: 0o755 });
    }
  }
  return resolveInRoot(root, containerPath);
}
