/**
 * state-root.ts — where minibox keeps its state on disk, and the layout under it.
 *
 *   /var/lib/minibox/                 (or --root DIR, or $MINIBOX_ROOT)
 *     blobs/sha256/<hex>              content-addressed blobs: manifests, configs, compressed layers
 *     layers/sha256/<diff-id hex>/    each layer unpacked into its own directory (an overlay lower dir)
 *     images/index.json               image records: repository:tag → manifest, config, layers
 *     mounts/<image id>/              `minibox image mount` targets
 *     containers/<id>/                one directory per container (bundle, state, upper dir)
 *     volumes/<name>/                 named volumes
 *     networks/<name>/                network config, IPAM ledger, one endpoint file per attached container
 *     tmp/                            downloads and unpacks in progress (never visible elsewhere)
 *     locks/                          lock files that serialise concurrent minibox processes
 *     seccomp/<key>.filter            compiled seccomp filters, reused by every container with the same rules
 *
 * Everything that appears under `blobs/` or `layers/` was first written under `tmp/` and then
 * renamed into place, so a crash never leaves a half-written blob or layer where it can be used.
 *
 * Who may have written it. Everything minibox later does as root — which directory a volume
 * binds, which pids `stop` signals, which layers become a container's `/` — follows from records
 * in this tree. A state root another user could write is therefore a way to root: a user who
 * pre-creates `--root /tmp/y` with `volumes/v/volume.json` naming `/` as the volume's data gets
 * the host's `/` bound into the next root `run -v v:/data`. So before using a root, minibox walks
 * the path to it and the directories in it with lstat(2): every directory must belong to root (or
 * to the user running minibox) and must not be writable by group or others — except an ancestor
 * with the sticky bit, like /tmp, where only an entry's owner may rename it; every symlink on the
 * way must belong to root or that user too. Otherwise: one line, exit 125, nothing touched.
 *
 * Try: `minibox images >/dev/null && ls $MINIBOX_ROOT` → `blobs … containers … images … layers …
 * locks`
 *
 * Try: `d=$(mktemp -d) && chmod 777 $d && minibox --root $d/r ps; echo $?` → `… 125`
 */
import fs from 'node:fs';
import path from 'node:path';
import { MiniboxError } from './errors.js';

export const DEFAULT_ROOT = '/var/lib/minibox';

/** The state root: explicit option, then $MINIBOX_ROOT, then /var/lib/minibox. */
export function resolveStateRoot(explicit?: string): string {
  return path.resolve(explicit ?? process.env.MINIBOX_ROOT ?? DEFAULT_ROOT);
}

export class StateRoot {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  get blobs(): string { return path.join(this.dir, 'blobs'); }
  get layers(): string { return path.join(this.dir, 'layers'); }
  get images(): string { return path.join(this.dir, 'images'); }
  get mounts(): string { return path.join(this.dir, 'mounts'); }
  get containers(): string { return path.join(this.dir, 'containers'); }
  get volumes(): string { return path.join(this.dir, 'volumes'); }
  get networks(): string { return path.join(this.dir, 'networks'); }
  get tmp(): string { return path.join(this.dir, 'tmp'); }
  get locks(): string { return path.join(this.dir, 'locks'); }
  /** Compiled seccomp filters, by hash of config.json's linux.seccomp (made by the runtime, 0700). */
  get seccompCache(): string { return path.join(this.dir, 'seccomp'); }

  /**
   * Creates the root (0711: others may pass through, not list) and the directories that hold
   * image and container files (0700). Image layers can carry setuid-root programs and device
   * nodes: no other user of the host may reach them through the state root.
   */
  prepare(): this {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o711 });
    checkTrustedPath(this.dir);
    for (const dir of [this.blobs, this.layers, this.images, this.mounts, this.containers, this.volumes, this.tmp, this.locks]) {
      fs.mkdirSync(dir, { mode: 0o700, recursive: true });
      checkTrustedDirectory(dir, fs.lstatSync(dir), false);
    }
    if (fs.existsSync(this.networks)) checkTrustedDirectory(this.networks, fs.lstatSync(this.networks), false);
    return this;
  }
}

/** True when `file` (resolved lexically) lies strictly below `dir`: a record's path checked against the root. */
export function isBelow(dir: string, file: string): boolean {
  const relative = path.relative(dir, path.resolve(file));
  return relative !== '' && relative !== '..' && !relative.startsWith('../') && !path.isAbsolute(relative);
}

/** Owners whose files minibox may trust: root, and the user running minibox. */
function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === process.geteuid?.();
}

function refuse(file: string, why: string): never {
  throw new MiniboxError(`state root: ${file} ${why}: another user could have prepared what minibox would run as root; `
    + 'use a directory only root can write (e.g. the default /var/lib/minibox), or remove this one');
}

/** A directory minibox keeps state in (or passes through): trusted owner, no foreign writers. */
function checkTrustedDirectory(dir: string, stat: fs.Stats, ancestor: boolean): void {
  if (stat.isSymbolicLink()) refuse(dir, 'is a symbolic link');
  if (!stat.isDirectory()) refuse(dir, 'is not a directory');
  if (!trustedOwner(stat.uid)) refuse(dir, `is owned by uid ${stat.uid}, not root`);
  const sticky = (stat.mode & 0o1000) !== 0;
  if ((stat.mode & 0o022) !== 0 && !(ancestor && sticky)) {
    const writers = [(stat.mode & 0o020) !== 0 ? 'its group' : '', (stat.mode & 0o002) !== 0 ? 'others' : ''].filter(Boolean);
    refuse(dir, `is writable by ${writers.join(' and ')} (mode ${(stat.mode & 0o7777).toString(8)})`);
  }
}

/**
 * Walks `target` from `/` with lstat: every directory on the way and `target` itself pass
 * checkTrustedDirectory; a symlink on the way must have a trusted owner, and is followed.
 */
function checkTrustedPath(target: string): void {
  const pending = path.resolve(target).split('/').filter(Boolean);
  let current = '/';
  checkTrustedDirectory(current, fs.lstatSync(current), true);
  for (let links = 0; pending.length > 0;) {
    const part = pending.shift()!;
    if (part === '.') continue;
    const next = part === '..' ? path.dirname(current) : path.join(current, part);
    const stat = fs.lstatSync(next);
    if (stat.isSymbolicLink()) {
      if (!trustedOwner(stat.uid)) refuse(next, `is a symbolic link owned by uid ${stat.uid}`);
      if (++links > 40) refuse(target, 'has too many symbolic links');
      const link = fs.readlinkSync(next);
      pending.unshift(...link.split('/').filter(Boolean));
      if (link.startsWith('/')) current = '/';
      continue;
    }
    checkTrustedDirectory(next, stat, pending.length > 0);
    current = next;
  }
}
