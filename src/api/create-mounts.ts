/**
 * create-mounts.ts — `docker run --mount …`: the create body's `HostConfig.Mounts`, as the `-v`
 * and `--tmpfs` specs minibox's run understands.
 *
 * `--mount` is the long spelling of the same three mounts (moby api/types/mount):
 *   type=bind,src=/host,dst=/data[,readonly]   → `-v /host:/data[:ro]` — but the source must
 *                                                exist: `--mount` never creates it (`-v` does);
 *   type=volume[,src=name],dst=/data[,ro]      → `-v name:/data[:ro]`, or an anonymous `-v /data`;
 *   type=tmpfs,dst=/t[,tmpfs-size=…,tmpfs-mode=…] → `--tmpfs /t:size=…,mode=…`.
 * One set of checks (bundle/volumes.ts) then judges both spellings. An option minibox has no
 * way to honour (bind propagation, volume drivers and labels, nocopy) is refused by name.
 *
 * Try: `docker -H unix:///tmp/mb.sock run --rm --mount type=tmpfs,dst=/t,tmpfs-size=1m busybox
 * df -k /t | tail -1` → `tmpfs  1024  0  1024  0% /t`
 */
import fs from 'node:fs';
import { ApiError } from './api-errors.js';

/** One entry of `HostConfig.Mounts` (the fields minibox reads). */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> | null; DriverConfig?: { Name?: string } | null; Subpath?: string } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

const refuse = (type: string, what: string): ApiError =>
  new ApiError(400, `invalid mount config for type "${type}": ${what} is not supported by minibox`);

function bindSpec(mount: ApiMount, target: string, mode: string): string {
  const source = mount.Source ?? '';
  if (!source.startsWith('/')) throw new ApiError(400, `invalid mount config for type "bind": invalid mount path: '${source}' mount path must be absolute`);
  if (mount.BindOptions?.Propagation && mount.BindOptions.Propagation !== 'rprivate') throw refuse('bind', `bind-propagation=${mount.BindOptions.Propagation}`);
  if (mount.BindOptions?.NonRecursive) throw refuse('bind', 'bind-recursive=disabled');
  if (!mount.BindOptions?.CreateMountpoint && !fs.existsSync(source)) {
    throw new ApiError(400, `invalid mount config for type "bind": bind source path does not exist: ${source}`);
  }
  return `${source}:${target}${mode}`;
}

function volumeSpec(mount: ApiMount, target: string, mode: string): string {
  const options = mount.VolumeOptions ?? {};
  if (options.NoCopy) throw refuse('volume', 'volume-nocopy');
  if (options.DriverConfig?.Name && options.DriverConfig.Name !== 'local') throw refuse('volume', `volume-driver=${options.DriverConfig.Name}`);
  if (options.Labels && Object.keys(options.Labels).length > 0) throw refuse('volume', 'volume-label');
  if (options.Subpath) throw refuse('volume', 'volume-subpath');
  if (!mount.Source) return mode ? refuseAnonymousReadOnly() : target;
  return `${mount.Source}:${target}${mode}`;
}

function refuseAnonymousReadOnly(): never {
  throw refuse('volume', 'a read-only anonymous volume');
}

function tmpfsSpec(mount: ApiMount, target: string): string {
  if (mount.Source) throw new ApiError(400, 'invalid mount config for type "tmpfs": source is not allowed for tmpfs');
  const options = [
    ...(mount.ReadOnly ? ['ro'] : []),
    ...(mount.TmpfsOptions?.SizeBytes ? [`size=${mount.TmpfsOptions.SizeBytes}`] : []),
    ...(mount.TmpfsOptions?.Mode ? [`mode=${mount.TmpfsOptions.Mode.toString(8)}`] : []),
  ];
  return options.length > 0 ? `${target}:${options.join(',')}` : target;
}

/** `HostConfig.Mounts` → the `-v` and `--tmpfs` specs of the same mounts. */
export function mountFlags(mounts: ApiMount[]): { volumes: string[]; tmpfs: string[] } {
  const volumes: string[] = [];
  const tmpfs: string[] = [];
  for (const mount of mounts) {
    const type = mount.Type ?? '';
    const target = mount.Target ?? '';
    if (!target) throw new ApiError(400, `invalid mount config for type "${type}": field Target must not be empty`);
    const mode = mount.ReadOnly ? ':ro' : '';
    if (type === 'bind') volumes.push(bindSpec(mount, target, mode));
    else if (type === 'volume') volumes.push(volumeSpec(mount, target, mode));
    else if (type === 'tmpfs') tmpfs.push(tmpfsSpec(mount, target));
    else throw new ApiError(400, `invalid mount config: mount type "${type}" is not supported by minibox: use bind, volume or tmpfs`);
  }
  return { volumes, tmpfs };
}
