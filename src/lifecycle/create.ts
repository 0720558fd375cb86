/**
 * create.ts — making a container: a record, a directory, and an OCI bundle, before anything runs.
 *
 * `docker run` is `docker create` + `docker start`. Creating means: check every flag (so a typo
 * fails before a pull or a mount), resolve the image's command and user, claim a name and an id,
 * prepare volumes and the /etc files, and write `config.json`. Nothing is mounted yet: the
 * runtime mounts the overlay (layers + this container's upper dir) inside the container's own
 * mount namespace, so when the container's last process exits, the kernel unmounts it all.
 *
 * If any step fails after the directory exists, it is removed again: a failed create leaves
 * nothing behind.
 *
 * Try: `minibox run --name box busybox true && ls $(dirname $(find $MINIBOX_ROOT/containers -name
 * config.json))` → `config.json … container.json … hostname … hosts`
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { SECCOMP_CACHE_ANNOTATION, writeSpec, type SpecMount } from '../bundle/oci-bundle.js';
import { nativeProgramPath } from '../runtime/programs.js';
import { deleteContainer } from './remove.js';
import { validateContainerName, shortId } from '../container/container-id.js';
import { ContainerStore, type ContainerPaths, type ContainerRecord, type MountPoint } from '../container/container-store.js';
import { containerResolvConf, hostnameFile, hostsFile } from '../bundle/etc-files.js';
import type { RunnableImage } from './image-source.js';
import { LayerStack } from '../bundle/layer-view.js';
import {
  bindMount, buildEnvironment, buildRuntimeSpec, computeCapabilities, expandEnvOption, parseNetworkMode,
  readEnvFile, containerArgv, resolveWorkingDir, type NetworkMode,
} from '../bundle/spec-from-image.js';
import { resolveUser, validateUserSpec } from '../bundle/user.js';
import {
  hostDevices, noNewPrivileges, parseSecurityOptions, privilegedCapabilities, specSeccomp, type SecurityOptions,
} from '../bundle/security-options.js';
import type { PortSpec } from '../network/index.js';
import { checkHostPortsFree, checkNetworkFlags, extraHostsLines, toPortBindings, wantedPorts, type NetworkFlags } from './hooks/network-options.js';
import { resolvConfWithDns } from '../network/index.js';
import { parseTmpfsSpec, parseVolumeSpec, VolumeStore, type TmpfsSpec, type VolumeSpec } from '../bundle/volumes.js';
import { assertCgroupV2ForLimits, type LinuxResources, type ResourceFlags } from '../cgroups/index.js';
import { hostConfigLimits, resourcesFromFlags } from './resources.js';
import { parseLogOptions, type LogConfig } from './log-options.js';
import { checkRestartWith, parseRestartPolicy, type RestartPolicy } from './restart-policy.js';
import { recordContainerEvent } from '../events/event-log.js';
import { mergeHealthcheck, type HealthFlags } from './health.js';

/** `minibox run` options that shape the container (everything but image choice and I/O). */
export interface CreateRequest extends NetworkFlags {
  image: string;
  command: string[];
  name?: string;
  autoRemove?: boolean;
  interactive?: boolean;
  tty?: boolean;
  env?: string[];
  envFiles?: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  network?: string;
  volumes?: string[];
  tmpfs?: string[];
  readOnly?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  /** `--security-opt` values as typed: seccomp=…, no-new-privileges[=…] (security-options.ts). */
  securityOpt?: string[];
  /** `--privileged`: every capability and device, no seccomp, no masked paths. Dangerous. */
  privileged?: boolean;
  /** `--init`: minibox-init runs as PID 1 and the command as its child (reaps zombies, forwards signals). */
  init?: boolean;
  /** `--memory`, `--cpus`, `--pids-limit`…, as typed (checked by checkRequest). */
  resources?: ResourceFlags;
  /** `--log-opt KEY=VALUE` values (log-options.ts). */
  logOpts?: string[];
  /** `--restart` as typed (restart-policy.ts). */
  restart?: string;
  /** `--health-*` and `--no-healthcheck` as typed (health.ts). */
  health?: HealthFlags;
}

/** Where `--init` puts minibox-init inside the container (Docker's path for its docker-init). */
export const INIT_PATH = '/sbin/docker-init';

/** A request whose flags were all checked; nothing in here needs the image. */
export interface CheckedRequest {
  request: CreateRequest;
  network: NetworkMode;
  /** `-p` values (network-options.ts); `-P` adds the image's ports at create time. */
  ports: PortSpec[];
  volumes: VolumeSpec[];
  tmpfs: TmpfsSpec[];
  capabilities: string[];
  security: SecurityOptions;
  userEnv: string[];
  /** OCI linux.resources from the limit flags; undefined without any. */
  resources?: LinuxResources;
  logConfig: LogConfig;
  restartPolicy: RestartPolicy;
  healthcheckFlags: HealthFlags;
}

/** Checks every flag; throws a one-line UsageError (exit 125) on the first bad one. */
export function checkRequest(request: CreateRequest, root?: StateRoot): CheckedRequest {
  if (request.name !== undefined) validateContainerName(request.name);
  if (request.user !== undefined && request.user !== '') validateUserSpec(request.user);
  if (request.workdir !== undefined) resolveWorkingDir(request.workdir, {});
  if (request.hostname !== undefined && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(request.hostname)) {
    throw new UsageError(`invalid hostname format: ${request.hostname}`);
  }
  const volumes = (request.volumes ?? []).map(parseVolumeSpec);
  const tmpfs = (request.tmpfs ?? []).map(parseTmpfsSpec);
  const destinations = [...volumes, ...tmpfs].map((mount) => mount.destination);
  const duplicate = destinations.find((destination, index) => destinations.indexOf(destination) !== index);
  if (duplicate) throw new UsageError(`duplicate mount point: ${duplicate}`);
  const userEnv = [
    ...(request.envFiles ?? []).flatMap(readEnvFile),
    ...(request.env ?? []).map((option) => expandEnvOption(option)).filter((entry): entry is string => entry !== undefined),
  ];
  // Limits: values first (a typo is the clearer error), then the host (v2 only; nothing created yet).
  const resources = resourcesFromFlags(request.resources ?? {});
  assertCgroupV2ForLimits(request.resources ?? {});
  return {
    request,
    ...(resources ? { resources } : {}),
    ...checkedNetwork(request, root),
    volumes,
    tmpfs,
    // --privileged keeps every capability whatever --cap-drop says, as Docker.
    capabilities: request.privileged ? privilegedCapabilities() : computeCapabilities(request.capAdd ?? [], request.capDrop ?? []),
    security: parseSecurityOptions(request.securityOpt ?? [], request.privileged ?? false),
    userEnv,
    logConfig: parseLogOptions(request.logOpts ?? []),
    restartPolicy: checkedRestartPolicy(request),
    healthcheckFlags: checkedHealthFlags(request.health ?? {}),
  };
}

/** Checked now, so a typo fails before a pull; merged with the image's HEALTHCHECK at create. */
function checkedHealthFlags(flags: HealthFlags): HealthFlags {
  mergeHealthcheck(undefined, flags);
  return flags;
}

function withHealthcheck(check: ReturnType<typeof mergeHealthcheck>): { Healthcheck?: NonNullable<ReturnType<typeof mergeHealthcheck>> } {
  return check ? { Healthcheck: check } : {};
}

function checkedRestartPolicy(request: CreateRequest): RestartPolicy {
  const policy = parseRestartPolicy(request.restart);
  checkRestartWith(policy, { autoRemove: request.autoRemove ?? false });
  return policy;
}

/** `--network` (a user network must exist in `root`) and `-p`/`--add-host`/`--dns`. */
function checkedNetwork(request: CreateRequest, root: StateRoot | undefined): { network: NetworkMode; ports: PortSpec[] } {
  const network = parseNetworkMode(request.network, root);
  return { network, ports: checkNetworkFlags(request, network) };
}

/**
 * Creates `workdir` in the upper dir when the image lacks it (Docker does the same), copying the
 * owner and mode of the directories the image already has, as overlayfs' copy-up would.
 * Stops at a symlink: the runtime resolves those inside the mounted root.
 */
export function ensureWorkingDir(stack: LayerStack, upperDir: string, workdir: string): void {
  const parts = workdir.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) return;
  for (let i = 1; i <= parts.length; i++) {
    const imagePath = `/${parts.slice(0, i).join('/')}`;
    const inImage = stack.lookup(imagePath, false);
    const upperPath = path.join(upperDir, ...parts.slice(0, i));
    if (inImage && !inImage.stats.isDirectory()) return;
    if (fs.existsSync(upperPath)) continue;
    fs.mkdirSync(upperPath, { mode: inImage ? inImage.stats.mode & 0o7777 : 0o755 });
    if (inImage) fs.chownSync(upperPath, inImage.stats.uid, inImage.stats.gid);
  }
}

async function prepareMounts(root: StateRoot, checked: CheckedRequest, image: RunnableImage): Promise<{ specMounts: SpecMount[]; mountPoints: MountPoint[] }> {
  const volumes = new VolumeStore(root);
  const specMounts: SpecMount[] = [];
  const mountPoints: MountPoint[] = [];
  const wanted = [...checked.volumes];
  // Paths the image declares as VOLUME get an anonymous volume unless the user mounted something there.
  for (const destination of Object.keys(image.config.Volumes ?? {})) {
    const normal = path.posix.normalize(destination).replace(/(.)\/$/, '$1');
    if (normal.startsWith('/') && normal !== '/' && !wanted.some((v) => v.destination === normal) && !checked.tmpfs.some((t) => t.destination === normal)) {
      wanted.push({ kind: 'anonymous', destination: normal, readOnly: false });
    }
  }
  for (const spec of wanted) {
    if (spec.kind === 'bind') {
      // Docker's -v creates a missing host dir; an existing file or directory is bound as it is.
      if (!fs.existsSync(spec.source)) fs.mkdirSync(spec.source, { recursive: true });
      specMounts.push(bindMount(spec.source, spec.destination, spec.readOnly));
      mountPoints.push({ Type: 'bind', Source: spec.source, Destination: spec.destination, RW: !spec.readOnly });
    } else {
      const volume = await volumes.create(spec.kind === 'volume' ? spec.name : undefined, spec.kind === 'anonymous');
      specMounts.push(bindMount(volume.Mountpoint, spec.destination, spec.readOnly));
      mountPoints.push({
        Type: 'volume', Name: volume.Name, Source: volume.Mountpoint, Destination: spec.destination, RW: !spec.readOnly,
        ...(spec.kind === 'anonymous' ? { Anonymous: true } : {}),
      });
    }
  }
  for (const tmpfs of checked.tmpfs) {
    specMounts.push({ destination: tmpfs.destination, type: 'tmpfs', source: 'tmpfs', options: tmpfs.options });
    mountPoints.push({ Type: 'tmpfs', Source: '', Destination: tmpfs.destination, RW: !tmpfs.options.includes('ro') });
  }
  return { specMounts, mountPoints };
}

/** What the image and the request decide before anything is stored: argv, user, directory, ports. */
interface ContainerPlan {
  stack: LayerStack;
  command: ReturnType<typeof containerArgv>;
  userSpec: string;
  user: ReturnType<typeof resolveUser>;
  cwd: string;
  tty: boolean;
  ports: ReturnType<typeof wantedPorts>;
  extraHosts: string;
}

async function planContainer(root: StateRoot, image: RunnableImage, checked: CheckedRequest): Promise<ContainerPlan> {
  const { request } = checked;
  const stack = new LayerStack(image.layerDirsTopFirst);
  const command = containerArgv(image.config, request.entrypoint, request.command);
  const userSpec = request.user ?? image.config.User ?? '';
  const user = resolveUser(userSpec, stack);
  const cwd = resolveWorkingDir(request.workdir, image.config);
  const ports = wantedPorts(checked.ports, request.publishAll ?? false, image.config.ExposedPorts);
  await checkHostPortsFree(ports);
  const extraHosts = await extraHostsLines(root, checked.network, request.addHost ?? []);
  return { stack, command, userSpec, user, cwd, tty: request.tty ?? false, ports, extraHosts };
}

/** The record `docker inspect` shows, as Docker fills it (Config from the image, HostConfig from the flags). */
function containerRecordFields(id: string, image: RunnableImage, checked: CheckedRequest, plan: ContainerPlan): Omit<ContainerRecord, 'Id' | 'Name' | 'Created' | 'State'> {
  const { request } = checked;
  return {
    Image: request.image,
    ImageID: image.id,
    Path: plan.command.argv[0]!,
    Args: plan.command.argv.slice(1),
    Config: {
      Hostname: request.hostname ?? shortId(id),
      User: plan.userSpec,
      Env: [],
      Cmd: plan.command.cmd,
      Entrypoint: plan.command.entrypoint,
      WorkingDir: plan.cwd,
      Image: request.image,
      Tty: plan.tty,
      OpenStdin: request.interactive ?? false,
      ...(image.config.Labels ? { Labels: image.config.Labels } : {}),
      ...(image.config.StopSignal ? { StopSignal: image.config.StopSignal } : {}),
      ...(image.config.ExposedPorts ? { ExposedPorts: image.config.ExposedPorts } : {}),
      ...withHealthcheck(mergeHealthcheck(image.config.Healthcheck, checked.healthcheckFlags)),
    },
    HostConfig: {
      Binds: request.volumes ?? [],
      Tmpfs: Object.fromEntries(checked.tmpfs.map((t) => [t.destination, t.options.join(',')])),
      AutoRemove: request.autoRemove ?? false,
      NetworkMode: checked.network,
      PortBindings: toPortBindings(plan.ports),
      PublishAllPorts: request.publishAll ?? false,
      ExtraHosts: request.addHost ?? [],
      Dns: request.dns ?? [],
      ReadonlyRootfs: request.readOnly ?? false,
      CapAdd: request.capAdd ?? [],
      CapDrop: request.capDrop ?? [],
      SecurityOpt: request.securityOpt ?? [],
      Privileged: request.privileged ?? false,
      Init: request.init ?? false,
      ...hostConfigLimits(checked.resources),
      LogConfig: checked.logConfig,
      RestartPolicy: checked.restartPolicy,
    },
    Mounts: [],
  };
}

/** Creates the container and its bundle; returns its record and paths. Cleans up on failure. */
export async function createContainer(root: StateRoot, image: RunnableImage, checked: CheckedRequest): Promise<{ record: ContainerRecord; paths: ContainerPaths }> {
  const store = new ContainerStore(root);
  const plan = await planContainer(root, image, checked);
  const record = await store.create(checked.request.name, (id) => containerRecordFields(id, image, checked, plan));
  try {
    const saved = await writeBundle(store, record, image, checked, plan);
    recordContainerEvent(root, saved, 'create');
    return { record: saved, paths: store.paths(record.Id) };
  } catch (error) {
    await removeContainer(root, record.Id);
    throw error;
  }
}

/** Volumes, the /etc files, the working directory and config.json: the bundle the runtime will obey. */
async function writeBundle(store: ContainerStore, record: ContainerRecord, image: RunnableImage, checked: CheckedRequest, plan: ContainerPlan): Promise<ContainerRecord> {
  const { request } = checked;
  const { command, user, cwd, tty } = plan;
  const paths = store.paths(record.Id);
  const hostname = record.Config.Hostname;
  const env = buildEnvironment({ imageEnv: image.config.Env ?? [], userEnv: checked.userEnv, hostname, home: user.home, tty });
  const { specMounts, mountPoints } = await prepareMounts(store.root, checked, image);
  await store.update(record.Id, (r) => { r.Mounts = mountPoints; }); // so a failure below still frees anonymous volumes
  fs.writeFileSync(paths.hostname, hostnameFile(hostname));
  fs.writeFileSync(paths.hosts, (checked.network === 'host' ? fs.readFileSync('/etc/hosts', 'utf8') : hostsFile(hostname)) + plan.extraHosts);
  fs.writeFileSync(paths.resolvConf, resolvConfWithDns(containerResolvConf(checked.network), request.dns ?? []));
  ensureWorkingDir(plan.stack, paths.upper, cwd);
  // With --init the record keeps the user's command (as Docker's Path/Args do); only the
  // runtime spec runs it under minibox-init, bind-mounted read-only from native/build/.
  const initMounts = request.init ? [bindMount(nativeProgramPath('minibox-init'), INIT_PATH, true)] : [];
  const spec = buildRuntimeSpec({
    argv: request.init ? [INIT_PATH, '--', ...command.argv] : command.argv, env, cwd, tty, hostname, network: checked.network,
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    readOnlyRootfs: request.readOnly ?? false,
    capabilities: checked.capabilities,
    userMounts: [...specMounts, ...initMounts],
    etcFiles: { hostname: paths.hostname, hosts: paths.hosts, resolvConf: paths.resolvConf },
    // --rm: the writable layer is deleted with the container, so it is never synced (rootfs.ts).
    overlay: { lowerDirsTopFirst: image.layerDirsTopFirst, upperDir: paths.upper, workDir: paths.work, volatile: request.autoRemove === true },
    noNewPrivileges: noNewPrivileges(checked.security),
    seccomp: specSeccomp(checked.security, checked.capabilities),
    ...(request.privileged ? { privileged: { devices: hostDevices() } } : {}),
  });
  if (spec.linux?.seccomp) spec.annotations = { ...spec.annotations, [SECCOMP_CACHE_ANNOTATION]: store.root.seccompCache };
  if (checked.resources) spec.linux = { ...spec.linux, resources: checked.resources }; // runc applies the same limits
  writeSpec(paths.dir, spec);
  return await store.update(record.Id, (r) => { r.Config.Env = env; });
}

/** Deletes a container's directory and record, then its anonymous volumes (as `rm -v` / `--rm`). */
export async function removeContainer(root: StateRoot, id: string): Promise<void> {
  const store = new ContainerStore(root);
  await store.withContainerLock(id, async () => {
    const record = store.get(id);
    if (record) await deleteContainer(store, record, { anonymousVolumes: true });
    else store.removeFiles(id); // a half-made directory without a record
  });
  store.forgetLock(id);
}
