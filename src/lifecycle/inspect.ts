/**
 * inspect.ts — `minibox inspect` for a container: its record, shaped like `docker inspect`.
 *
 * Most of it is container.json as it is. Added on the way out: the fields Docker always shows
 * (Dead is always false here; Paused, Restarting and RestartCount default to false and 0), the paths of the container's files, and
 * GraphDriver — where its layers are: LowerDir (the image's layer dirs, top first), UpperDir
 * (the container's writable layer), WorkDir (overlayfs' scratch dir) and MergedDir (where the
 * overlay is mounted — inside the container's own mount namespace only).
 *
 * Try: `minibox run --name box busybox true && minibox inspect --format '{{.GraphDriver.Name}}'
 * box` → `overlay2`
 */
import type { StateRoot } from '../state-root.js';
import { OVERLAY_ANNOTATIONS, readSpec } from '../bundle/oci-bundle.js';
import { ContainerStore, type ContainerRecord } from '../container/container-store.js';
import { networkSettings } from './hooks/network-hooks.js';
import { DEFAULT_LOG_OPTIONS } from './log-options.js';

/** Go's zero time, which Docker prints for "never". */
const ZERO_TIME = '0001-01-01T00:00:00Z';

function lowerDirOf(bundleDir: string): string {
  try {
    return readSpec(bundleDir).annotations?.[OVERLAY_ANNOTATIONS.lowerdir] ?? '';
  } catch {
    return '';
  }
}

export function inspectContainer(root: StateRoot, record: ContainerRecord): Record<string, unknown> {
  const paths = new ContainerStore(root).paths(record.Id);
  const state = record.State;
  return {
    Id: record.Id,
    Created: record.Created,
    Path: record.Path,
    Args: record.Args,
    State: {
      Status: state.Running && state.Paused ? 'paused' : !state.Running && state.Restarting ? 'restarting' : state.Status,
      Running: state.Running || (state.Restarting ?? false), // Docker: a restarting container is still "Running"
      Paused: state.Paused ?? false,
      Restarting: state.Restarting ?? false,
      OOMKilled: state.OOMKilled ?? false,
      Dead: false,
      Pid: state.Pid,
      ExitCode: state.ExitCode,
      Error: state.Error,
      StartedAt: state.StartedAt || ZERO_TIME,
      FinishedAt: state.FinishedAt || ZERO_TIME,
      ...(state.Health ? { Health: state.Health } : {}),
    },
    Image: record.ImageID,
    ResolvConfPath: paths.resolvConf,
    HostnamePath: paths.hostname,
    HostsPath: paths.hosts,
    LogPath: paths.log,
    Name: record.Name,
    RestartCount: record.RestartCount ?? 0,
    Driver: 'overlay2',
    Platform: 'linux',
    HostConfig: {
      ...record.HostConfig,
      Init: record.HostConfig.Init ?? false,
      RestartPolicy: record.HostConfig.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 },
      LogConfig: record.HostConfig.LogConfig ?? { Type: 'json-file', Config: { ...DEFAULT_LOG_OPTIONS } },
    },
    GraphDriver: {
      Name: 'overlay2',
      Data: { LowerDir: lowerDirOf(paths.dir), UpperDir: paths.upper, MergedDir: paths.rootfs, WorkDir: paths.work },
    },
    Mounts: record.Mounts.map((mount) => ({
      Type: mount.Type,
      ...(mount.Name ? { Name: mount.Name } : {}),
      Source: mount.Source,
      Destination: mount.Destination,
      ...(mount.Type === 'volume' ? { Driver: 'local' } : {}),
      Mode: mount.RW ? '' : 'ro',
      RW: mount.RW,
      Propagation: mount.Type === 'bind' ? 'rprivate' : '',
    })),
    Config: record.Config,
    NetworkSettings: networkSettings(root, record),
  };
}
