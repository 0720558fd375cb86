/**
 * mountinfo.ts — the kernel's mount table, as this process sees it.
 *
 * Each mount namespace has its own table; /proc/self/mountinfo prints this process's, one mount
 * per line (proc(5)):
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2) (3)   (4)   (5)     (6)       (7)  (8)  (9)    (10)        (11)
 *
 *   1 mount ID   2 parent's mount ID   3 device major:minor   4 root: the directory of the file
 *   system mounted here (not `/` for bind mounts)   5 mount point   6 per-mount options (ro,
 *   nosuid, …)   7 zero or more optional fields (shared:N, master:N: mount propagation)
 *   8 a lone `-` ending the optional fields   9 file system type   10 source (device, or
 *   whatever `mount` was given)   11 per-superblock options (shared by every mount of it).
 *
 * Because the number of optional fields varies, the part after ` - ` must be found by the
 * separator, not by position. Fields are separated by single spaces, so the kernel escapes
 * space, tab, newline and backslash inside paths as three-digit octal: a mount point
 * `/tmp/my dir` appears as `/tmp/my\040dir`.
 *
 * Try: `minibox run --rm busybox cut -d' ' -f5 /proc/self/mountinfo` → `/ … /proc … /dev … /sys`
 * (the container's own mount table, and nothing of the host's).
 */
import fs from 'node:fs';

export interface MountInfoEntry {
  /** Where the mount is attached (unescaped). */
  mountPoint: string;
  /** The directory of the mounted file system that appears at mountPoint (unescaped). */
  root: string;
  fstype: string;
  /** The device or name the file system was mounted from (unescaped). */
  source: string;
  /** Per-mount options: `rw`, `nosuid`, … */
  options: string[];
  /** Per-superblock options: for cgroup v1 these name the controllers. */
  superOptions: string[];
}

/** Undoes the kernel's `\ooo` octal escaping of space, tab, newline and backslash. */
function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Parses a mountinfo text (default: this process's /proc/self/mountinfo); malformed lines are skipped. */
export function readMountInfo(text?: string): MountInfoEntry[] {
  const source = text ?? fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const entries: MountInfoEntry[] = [];
  for (const line of source.split('\n')) {
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const [, , , root, mountPoint, options = ''] = line.slice(0, separator).split(' ');
    const [fstype, mountSource = '', superOptions = ''] = line.slice(separator + 3).split(' ');
    if (root === undefined || mountPoint === undefined || !fstype) continue;
    entries.push({
      mountPoint: unescapeField(mountPoint),
      root: unescapeField(root),
      fstype,
      source: unescapeField(mountSource),
      options: options.split(','),
      superOptions: superOptions.split(','),
    });
  }
  return entries;
}
