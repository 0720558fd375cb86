/**
 * create-body.ts — `POST /containers/create`: the Engine API's container config, turned into the
 * same request `minibox run`'s flags make.
 *
 * The docker CLI parses `docker run -d --name web -p 18090:8080 -e A=1 busybox httpd -f` itself
 * and sends the result as JSON: `Config` fields at the top (Image, Cmd, Entrypoint, Env,
 * WorkingDir, User, Tty, OpenStdin…) and `HostConfig` for what touches the host (AutoRemove,
 * Binds, PortBindings, NetworkMode, Memory, NanoCpus, CapAdd…). Each is mapped back to the flag
 * it came from, so one set of checks (lifecycle/create.ts checkRequest) judges both front doors.
 * A field minibox has no flag for is refused by name, never silently dropped — a container that
 * quietly ignores `--device` would be a lie. `--restart` is the engine's own policy (its monitor
 * restarts the container, lifecycle/restart.ts); `--mount` becomes `-v`/`--tmpfs` (create-mounts.ts).
 *
 * Try: `docker -H unix:///tmp/mb.sock create --name c busybox true && minibox inspect --format '{{.Path}}' c`
 * → `true`
 */
import type { RunRequest } from '../lifecycle/run.js';
import { ApiError } from './api-errors.js';
import type { ResourceFlags } from '../cgroups/index.js';
import { mountFlags, type ApiMount } from './create-mounts.js';

/** The resource limits of a create or update body, in Docker's units (bytes, nano-CPUs). */
export interface ApiResourceLimits {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpusetCpus?: string;
  PidsLimit?: number | null;
}

/** Those limits as the CLI's flags (`--memory`, `--cpus`…); 0 and absent both mean "none given". */
export function resourceFlagsOf(limits: ApiResourceLimits): ResourceFlags {
  return {
    ...(limits.Memory ? { memory: String(limits.Memory) } : {}),
    ...(limits.MemorySwap ? { memorySwap: String(limits.MemorySwap) } : {}),
    ...(limits.MemoryReservation ? { memoryReservation: String(limits.MemoryReservation) } : {}),
    ...(limits.NanoCpus ? { cpus: String(limits.NanoCpus / 1e9) } : {}),
    ...(limits.CpuShares ? { cpuShares: String(limits.CpuShares) } : {}),
    ...(limits.CpusetCpus ? { cpusetCpus: limits.CpusetCpus } : {}),
    ...(limits.PidsLimit ? { pidsLimit: String(limits.PidsLimit) } : {}),
  };
}

interface PortBinding { HostIp?: string; HostPort?: string }

/** The part of the API's ContainerCreateRequest minibox reads. */
export interface CreateBody {
  Image?: string;
  Cmd?: string[] | string | null;
  Entrypoint?: string[] | string | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Hostname?: string;
  Tty?: boolean;
  OpenStdin?: boolean;
  StopSignal?: string;
  HostConfig?: ApiResourceLimits & {
    AutoRemove?: boolean;
    Binds?: string[] | null;
    NetworkMode?: string;
    PortBindings?: Record<string, PortBinding[] | null> | null;
    PublishAllPorts?: boolean;
    CapAdd?: string[] | null;
    CapDrop?: string[] | null;
    Privileged?: boolean;
    ReadonlyRootfs?: boolean;
    Tmpfs?: Record<string, string> | null;
    SecurityOpt?: string[] | null;
    Init?: boolean | null;
    ExtraHosts?: string[] | null;
    Dns?: string[] | null;
    LogConfig?: { Type?: string; Config?: Record<string, string> | null };
    RestartPolicy?: { Name?: string; MaximumRetryCount?: number };
    Devices?: unknown[] | null;
    Mounts?: ApiMount[] | null;
    VolumesFrom?: string[] | null;
  };
}

const asList = (value: string[] | string | null | undefined): string[] | undefined =>
  value === null || value === undefined ? undefined : Array.isArray(value) ? value : [value];

/** `{"8080/tcp": [{"HostIp": "", "HostPort": "18090"}]}` → `-p 18090:8080/tcp`. */
export function publishFlags(bindings: Record<string, PortBinding[] | null>): string[] {
  const flags: string[] = [];
  for (const [port, hosts] of Object.entries(bindings)) {
    for (const host of hosts ?? [{}]) {
      const ip = host.HostIp ? `${host.HostIp}:` : '';
      flags.push(host.HostPort ? `${ip}${host.HostPort}:${port}` : `${ip}${port}`);
    }
  }
  return flags;
}

/** Fields with no minibox flag yet: refused by name (400) rather than ignored. */
function refuseUnsupported(host: NonNullable<CreateBody['HostConfig']>): void {
  if (host.Devices && host.Devices.length > 0) throw new ApiError(400, '--device is not supported by minibox');
  if (host.VolumesFrom && host.VolumesFrom.length > 0) throw new ApiError(400, '--volumes-from is not supported by minibox');
  if (host.LogConfig?.Type && !['json-file', ''].includes(host.LogConfig.Type)) {
    throw new ApiError(400, `log driver "${host.LogConfig.Type}" is not supported by minibox: only json-file`);
  }
}

/** `{"Name": "on-failure", "MaximumRetryCount": 3}` → `--restart on-failure:3` (restart-policy.ts checks it). */
export function restartFlag(policy: { Name?: string; MaximumRetryCount?: number } | undefined): string | undefined {
  if (!policy?.Name) return undefined;
  return policy.MaximumRetryCount ? `${policy.Name}:${policy.MaximumRetryCount}` : policy.Name;
}

/** The request `minibox run` would make from the same flags. */
export function runRequestFromBody(body: CreateBody, name: string | undefined): RunRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'the create body must be a JSON object');
  if (!body.Image) throw new ApiError(400, 'no image given: the body needs "Image"');
  const host = body.HostConfig ?? {};
  refuseUnsupported(host);
  const entrypoint = asList(body.Entrypoint);
  const command = asList(body.Cmd) ?? [];
  const network = host.NetworkMode && host.NetworkMode !== 'default' ? host.NetworkMode : undefined;
  const resources = resourceFlagsOf(host);
  const mounts = mountFlags(host.Mounts ?? []);
  const restart = restartFlag(host.RestartPolicy);
  const logOpts = Object.entries(host.LogConfig?.Config ?? {}).map(([key, value]) => `${key}=${value}`);
  return {
    image: body.Image,
    // Entrypoint ["a", "b"] + Cmd ["c"] runs `a b c`, as with dockerd; an empty list resets it.
    ...(entrypoint ? { entrypoint: entrypoint[0] ?? '' } : {}),
    command: entrypoint ? [...entrypoint.slice(1), ...command] : command,
    ...(name ? { name } : {}),
    autoRemove: host.AutoRemove ?? false,
    interactive: body.OpenStdin ?? false,
    tty: body.Tty ?? false,
    env: body.Env ?? [],
    ...(body.WorkingDir ? { workdir: body.WorkingDir } : {}),
    ...(body.User ? { user: body.User } : {}),
    ...(body.Hostname ? { hostname: body.Hostname } : {}),
    ...(network ? { network } : {}),
    volumes: [...(host.Binds ?? []), ...mounts.volumes],
    tmpfs: [...Object.entries(host.Tmpfs ?? {}).map(([path, options]) => (options ? `${path}:${options}` : path)), ...mounts.tmpfs],
    readOnly: host.ReadonlyRootfs ?? false,
    capAdd: host.CapAdd ?? [],
    capDrop: host.CapDrop ?? [],
    securityOpt: host.SecurityOpt ?? [],
    privileged: host.Privileged ?? false,
    init: host.Init ?? false,
    publish: publishFlags(host.PortBindings ?? {}),
    publishAll: host.PublishAllPorts ?? false,
    addHost: host.ExtraHosts ?? [],
    dns: host.Dns ?? [],
    ...(Object.keys(resources).length > 0 ? { resources } : {}),
    logOpts,
    ...(restart ? { restart } : {}),
    pull: 'never', // the client pulls (POST /images/create) when create answers 404
  };
}
