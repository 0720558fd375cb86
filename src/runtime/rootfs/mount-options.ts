/**
 * mount-options.ts — config.json's mount `options` become mount(2) flags and a data string.
 *
 * `["nosuid","noexec","nodev","ro"]` are flags the kernel knows for every file system (MS_*);
 * `mode=755`, `size=65536k`, `newinstance`, `ptmxmode=0666` mean something only to one file
 * system and travel as the comma-separated `data` string. `bind`/`rbind` make a bind mount, and
 * `private`/`rslave`/… change propagation with a separate mount(2) call, as runc does.
 *
 * Try: `minibox run --rm --read-only busybox touch /x` → `Read-only file system`
 */
import { MS } from '../../sys/mount.js';

const FLAG_OPTIONS: Record<string, { set: boolean; flag: number }> = {
  ro: { set: true, flag: MS.RDONLY }, rw: { set: false, flag: MS.RDONLY },
  nosuid: { set: true, flag: MS.NOSUID }, suid: { set: false, flag: MS.NOSUID },
  nodev: { set: true, flag: MS.NODEV }, dev: { set: false, flag: MS.NODEV },
  noexec: { set: true, flag: MS.NOEXEC }, exec: { set: false, flag: MS.NOEXEC },
  sync: { set: true, flag: MS.SYNCHRONOUS }, async: { set: false, flag: MS.SYNCHRONOUS },
  dirsync: { set: true, flag: MS.DIRSYNC }, remount: { set: true, flag: MS.REMOUNT },
  mand: { set: true, flag: MS.MANDLOCK }, nomand: { set: false, flag: MS.MANDLOCK },
  atime: { set: false, flag: MS.NOATIME }, noatime: { set: true, flag: MS.NOATIME },
  diratime: { set: false, flag: MS.NODIRATIME }, nodiratime: { set: true, flag: MS.NODIRATIME },
  relatime: { set: true, flag: MS.RELATIME }, norelatime: { set: false, flag: MS.RELATIME },
  strictatime: { set: true, flag: MS.STRICTATIME }, nostrictatime: { set: false, flag: MS.STRICTATIME },
  bind: { set: true, flag: MS.BIND }, rbind: { set: true, flag: MS.BIND | MS.REC },
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** Every option name that is a flag or a propagation change (the rest go to the file system as data). */
export const KNOWN_MOUNT_OPTIONS: readonly string[] = ['defaults', ...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION_OPTIONS)];

export interface ParsedMountOptions {
  flags: number;
  /** Propagation changes to apply after the mount, e.g. MS_PRIVATE|MS_REC. */
  propagation: number[];
  /** File-system specific options, comma-separated, or null. */
  data: string | null;
}

export function parseMountOptions(options: string[] = []): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const option of options) {
    const flag = FLAG_OPTIONS[option];
    if (flag) {
      flags = flag.set ? flags | flag.flag : flags & ~flag.flag;
    } else if (PROPAGATION_OPTIONS[option] !== undefined) {
      propagation.push(PROPAGATION_OPTIONS[option]);
    } else if (option !== 'defaults') {
      data.push(option);
    }
  }
  return { flags, propagation, data: data.length > 0 ? data.join(',') : null };
}
