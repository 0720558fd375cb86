/**
 * run-command.ts — `minibox run [OPTIONS] IMAGE [COMMAND] [ARG...]`, shaped like `docker run`.
 *
 * Options end at the image name: in `minibox run busybox ls -l`, `-l` belongs to `ls`
 * (commander's passThroughOptions + the program's enablePositionalOptions). The work is in
 * src/lifecycle/run.ts; this file only turns flags into a RunRequest. `minibox create` takes the
 * same flags (addContainerFlags, all but -d) and stops before the start: `start [-a]` runs it.
 *
 * Try: `minibox run --rm busybox echo hello` → `hello`, and `minibox create --name cc busybox echo
 * hi >/dev/null && minibox start -a cc` → `hi`
 */
import type { Command } from 'commander';
import type { RunRequest } from '../../lifecycle/run.js';
import { collect, contextOf, requireTerminalFor, say } from '../context.js';
import { withExplainFlags } from '../explain-flags.js';
import type { ResourceFlags } from '../../cgroups/index.js';

export interface RunFlags extends ResourceFlags {
  name?: string;
  rm?: boolean;
  interactive?: boolean;
  tty?: boolean;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  network?: string;
  publish: string[];
  publishAll?: boolean;
  addHost: string[];
  dns: string[];
  volume: string[];
  tmpfs: string[];
  readOnly?: boolean;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  privileged?: boolean;
  platform?: string;
  pull?: string;
  quiet?: boolean;
  explain?: boolean;
  'explain=all'?: boolean;
  trace?: string;
  detach?: boolean;
  init?: boolean;
  logOpt: string[];
  restart?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthcheck?: boolean;
}

/** The limit flags, as typed (create.ts checks them); only the ones given. */
function resourceFlagsOf(flags: RunFlags): ResourceFlags {
  const { memory, memorySwap, memoryReservation, cpus, cpuShares, cpusetCpus, pidsLimit } = flags;
  const given = { memory, memorySwap, memoryReservation, cpus, cpuShares, cpusetCpus, pidsLimit };
  return Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) as ResourceFlags;
}

/**
 * The flags `run` and `create` share (all of `run`'s but -d), added to `command` once here so
 * the two never drift apart: Docker's `create` takes every `run` flag.
 */
export function addContainerFlags(command: Command): Command {
  return command
    .option('--init', 'run a tiny init as PID 1 that reaps zombies and forwards signals')
    .option('--name <name>', 'assign a name to the container')
    .option('--rm', 'remove the container (and its anonymous volumes) when it exits')
    .option('-i, --interactive', 'keep standard input open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable; KEY alone copies it from here (repeatable)', collect, [])
    .option('--env-file <file>', 'read KEY=VALUE lines from a file (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container (absolute)')
    .option('-u, --user <user[:group]>', 'user name or uid, optionally with group name or gid')
    .option('--entrypoint <command>', 'override the image entrypoint (clears the image Cmd)')
    .option('--hostname <name>', 'container host name (default: the short container id)')
    .option('--network <mode>', 'bridge (default), none (only lo), host, or a network from `minibox network create`', 'bridge')
    .option('-p, --publish <[ip:]host:ctr[/proto]>', 'publish a container port on the host, e.g. 8080:80 or 80 (repeatable)', collect, [])
    .option('-P, --publish-all', 'publish every port the image EXPOSEs on a free host port')
    .option('--add-host <name:ip>', 'add a line to /etc/hosts; ip may be host-gateway (repeatable)', collect, [])
    .option('--dns <ip>', 'nameserver for /etc/resolv.conf instead of the host\'s (repeatable)', collect, [])
    .option('-v, --volume <spec>', 'bind mount or volume: /host:/ctr[:ro], name:/ctr[:ro], /ctr (repeatable)', collect, [])
    .option('--tmpfs <spec>', 'mount a tmpfs: /path[:options] (repeatable)', collect, [])
    .option('--read-only', 'mount the container\'s root file system read-only')
    .option('--cap-add <cap>', 'add a Linux capability, e.g. NET_ADMIN or ALL (repeatable)', collect, [])
    .option('--cap-drop <cap>', 'drop a Linux capability, e.g. CHOWN or ALL (repeatable)', collect, [])
    .option('--security-opt <opt>', 'seccomp=unconfined|PROFILE.json, no-new-privileges[=false] (repeatable)', collect, [])
    .option('--privileged', 'DANGEROUS: all capabilities and host devices, no seccomp, no masked paths')
    .option('-m, --memory <bytes>', 'memory limit, e.g. 256m or 1g (cgroup v2 memory.max)')
    .option('--memory-swap <bytes>', 'memory + swap limit; -1 = unlimited swap (default: twice --memory)')
    .option('--memory-reservation <bytes>', 'memory protected from reclaim (memory.low)')
    .option('--cpus <number>', 'number of CPUs, e.g. 0.5 (cpu.max)')
    .option('-c, --cpu-shares <weight>', 'relative CPU weight, default 1024 (cpu.weight)')
    .option('--cpuset-cpus <list>', 'CPUs the container may use, e.g. 0-1 or 0,2 (cpuset.cpus)')
    .option('--pids-limit <n>', 'maximum number of processes and threads; -1 = unlimited (pids.max)')
    .option('--health-cmd <command>', 'command to run to check health (run with /bin/sh -c)')
    .option('--health-interval <duration>', 'time between running the check, e.g. 30s (default 30s)')
    .option('--health-timeout <duration>', 'maximum time to allow one check to run (default 30s)')
    .option('--health-retries <n>', 'consecutive failures needed to report unhealthy (default 3)')
    .option('--health-start-period <duration>', 'start period: failures before the first success do not count')
    .option('--no-healthcheck', 'disable any container-specified HEALTHCHECK')
    .option('--restart <policy>', 'no, on-failure[:max-retries], always or unless-stopped', 'no')
    .option('--log-opt <key=value>', 'log rotation: max-size=10m, max-file=3 by default (repeatable)', collect, [])
    .option('--platform <os/arch>', 'platform to pull if the image is missing')
    .option('--pull <policy>', 'pull the image: missing, always or never', 'missing')
    .option('-q, --quiet', 'pull without progress output');
}

/** The engine's request from the shared flags. */
export function requestFromFlags(image: string, command: string[], flags: RunFlags, cmd: Command): RunRequest {
  const context = contextOf(cmd);
  return {
    image,
    command,
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    autoRemove: flags.rm ?? false,
    interactive: flags.interactive ?? false,
    tty: flags.tty ?? false,
    env: flags.env,
    envFiles: flags.envFile,
    ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}),
    ...(flags.user !== undefined ? { user: flags.user } : {}),
    ...(flags.entrypoint !== undefined ? { entrypoint: flags.entrypoint } : {}),
    ...(flags.hostname !== undefined ? { hostname: flags.hostname } : {}),
    ...(flags.network !== undefined ? { network: flags.network } : {}),
    publish: flags.publish,
    publishAll: flags.publishAll ?? false,
    addHost: flags.addHost,
    dns: flags.dns,
    volumes: flags.volume,
    tmpfs: flags.tmpfs,
    readOnly: flags.readOnly ?? false,
    capAdd: flags.capAdd,
    capDrop: flags.capDrop,
    securityOpt: flags.securityOpt,
    privileged: flags.privileged ?? false,
    ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
    ...(flags.pull !== undefined ? { pull: flags.pull } : {}),
    quiet: flags.quiet ?? false,
    insecureRegistries: context.insecureRegistries,
    registryMirrors: context.registryMirrors,
    explain: flags.explain === true || flags['explain=all'] === true,
    ...(flags.trace !== undefined ? { traceFile: flags.trace } : {}),
    init: flags.init ?? false,
    resources: resourceFlagsOf(flags),
    logOpts: flags.logOpt,
    ...(flags.restart !== undefined ? { restart: flags.restart } : {}),
    health: {
      ...(flags.healthCmd !== undefined ? { cmd: flags.healthCmd } : {}),
      ...(flags.healthInterval !== undefined ? { interval: flags.healthInterval } : {}),
      ...(flags.healthTimeout !== undefined ? { timeout: flags.healthTimeout } : {}),
      ...(flags.healthRetries !== undefined ? { retries: flags.healthRetries } : {}),
      ...(flags.healthStartPeriod !== undefined ? { startPeriod: flags.healthStartPeriod } : {}),
      ...(flags.healthcheck === false ? { none: true } : {}),
    },
  };
}

export function registerRunCommand(program: Command): void {
  const run = program
    .command('run')
    .description('Create and run a new container from an image')
    .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
    .argument('<image>', 'image reference or id')
    .argument('[command...]', 'command and arguments (default: the image\'s Entrypoint + Cmd)')
    .passThroughOptions()
    .option('-d, --detach', 'run in the background and print the container id');
  withExplainFlags(addContainerFlags(run), 'the container\'s start')
    .action(async (image: string, command: string[], flags: RunFlags, cmd: Command) => {
      if (!flags.detach) requireTerminalFor(flags); // `-dit` attaches nothing here: `attach` checks later
      const context = contextOf(cmd);
      // --explain and --trace observe the whole command (explain-flags.ts), not the runtime alone.
      const request = { ...requestFromFlags(image, command, flags, cmd), explain: false, traceFile: undefined };
      // Start the container's init stage (a second Node) first, so that it boots while the
      // engine's modules load and the image is found (lifecycle/early-init-stage.ts); with -d
      // under its monitor, which outlives this command (runtime/early-monitor.ts).
      const { startForegroundInitStage, startDetachedInitStage } = await import('../../lifecycle/early-init-stage.js');
      if (flags.detach) {
        const monitor = startDetachedInitStage(request);
        const { runDetached } = await import('../../lifecycle/run.js');
        say(await runDetached(context.root, request, monitor));
        return;
      }
      const initStage = startForegroundInitStage(request);
      const { runContainerFromImage } = await import('../../lifecycle/run.js');
      process.exitCode = await runContainerFromImage(context.root, request, initStage);
    });
}

/** `minibox create`: the first half of `run` — the container exists (state Created), nothing runs. */
export function registerCreateCommand(program: Command): void {
  const create = program
    .command('create')
    .description('Create a new container (state Created) without starting it; `start` runs it')
    .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
    .argument('<image>', 'image reference or id')
    .argument('[command...]', 'command and arguments (default: the image\'s Entrypoint + Cmd)')
    .passThroughOptions();
  addContainerFlags(create)
    .option('--explain', 'refused: create starts nothing to narrate (use run --explain)')
    .option('--trace <file>', 'refused: create starts nothing to trace (use run --trace)')
    .action(async (image: string, command: string[], flags: RunFlags, cmd: Command) => {
      const { createFromImage } = await import('../../lifecycle/run.js');
      say(await createFromImage(contextOf(cmd).root, requestFromFlags(image, command, flags, cmd)));
    });
}

/** `run` and `create`, which share their flags; with `only`, the one argv names (main.ts `Register`). */
export function registerRunCommands(program: Command, only?: string): void {
  if (only !== 'create') registerRunCommand(program);
  if (only !== 'run') registerCreateCommand(program);
}
