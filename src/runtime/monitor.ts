/**
 * monitor.ts — starting a container that outlives the command that started it (`run -d`, `start`).
 *
 * The engine (Node) cannot stay: it would cost ~40 MB per container and die with the terminal.
 * So it hands the container to native/minibox-monitor.c, a C process of ~1.6 MB RSS (measured, see
 * docs/lifecycle.md) in its own session:
 *
 *   engine ──spawn (setsid, env {})──▶ minibox-monitor ──unshare(NEWPID)+fork──▶ init stage (PID 1)
 *      ▲                                  │ fd 1: "<init pid>\n"                 │
 *      └──────── fds 3/4: the sync channel, passed through the monitor ──────────┘
 *
 * The monitor forks the init stage before it knows the container's files (`--early`,
 * early-monitor.ts: `run -d` starts it from its flags, so that the stage boots while the image is
 * found); the engine sends those options on fd 5 and reads the init's host pid back, sends the
 * bundle on fd 3, then speaks the same start protocol as a foreground run (start-protocol.ts):
 * namespaces ready → hooks (cgroups, network) → "go" → end of file on fd 4 = the program runs.
 * Then it closes its ends and returns; the monitor keeps the container's stdout/stderr
 * (→ json-file log), reaps it, and writes its exit status.
 * With -t (`run -dit`) the monitor, not the engine, holds the pty master — it must outlive this
 * command: when the init stage says "devpts-ready", the engine asks the monitor on fd 5
 * ("pty PATH"), and passes the number it answers on to the init stage. Every detached container
 * gets an attach socket (native/monitor-attach.c) for `minibox attach`.
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && ps -o rss=,args= -C
 * minibox-monitor` → `minibox-monitor`
 */
import path from 'node:path';
import { isTracing, publishStep } from '../sys/trace.js';
import { MiniboxError, describeError } from '../errors.js';
import { readBundle } from '../bundle/oci-bundle.js';
import { wantsMountNamespace, wantsPidNamespace } from './namespace-table.js';
import { startMonitorEarly, type EarlyMonitor, type EarlyMonitorOptions, type ReportReader } from './early-monitor.js';
import { driveStart } from './start-protocol.js';
import { observe, type ObserveOptions } from '../explain/observe.js';

export interface DetachedOptions extends ObserveOptions {
  /** Docker json-file log the monitor appends the container's output to. */
  logFile: string;
  /** Rotate it past maxSize bytes, keeping maxFiles files (`--log-opt`); unbounded when absent. */
  logLimits?: { maxSize: number; maxFiles: number };
  /** Where the monitor writes the exit status (exit-status.json). */
  statusFile: string;
  /** Where the monitor writes its own and the init's pid + start time (pids.json). */
  pidsFile: string;
  /** cgroup files with an `oom_kill N` line, read after the exit (missing files are fine). */
  oomFiles?: string[];
  /** The monitor's attach socket (`attach`, `start -a`). */
  attachSocket?: string;
  /** `-i` without -t: the container's stdin is a pipe the attach socket writes into (/dev/null otherwise). */
  stdinPipe?: boolean;
  /** Called once the monitor listens on attachSocket, before the program runs (`start -a`). */
  onMonitorReady?: () => void;
  /** An fd to hand to the container as stdin (`start -i`); /dev/null otherwise. */
  stdin?: number;
  /** Where the monitor appends the container's "die" event: the journal and the event's actor. */
  events?: { file: string; id: string; attributes: Record<string, string> };
  /** Docker's restart policy, applied by the monitor to the exit (lifecycle/restart-policy.ts). */
  restart?: { policy: 'always' | 'unless-stopped' | 'on-failure'; maximumRetryCount: number; restartCount: number; backoffMs: number; command: string[] };
  /** A healthcheck: the monitor execs `command` every interval (native/monitor-health.c). */
  health?: { intervalMs: number; command: string[] };
  /** Called when the init stage has its namespaces and waits: cgroups, network. */
  onNamespacesReady?: (pid: number) => Promise<void>;
  /** A monitor `run -d` started from its flags before the container existed (early-monitor.ts). */
  monitor?: EarlyMonitor;
}

export interface DetachedStart {
  /** The container's init process, as the host numbers it. */
  initPid: number;
  monitorPid: number;
}

export async function startDetached(bundleDir: string, options: DetachedOptions): Promise<DetachedStart> {
  let monitor = options.monitor;
  try {
    let spec;
    try {
      spec = readBundle(bundleDir).spec;
    } catch (error) {
      throw new MiniboxError(describeError(error));
    }
    if (!wantsMountNamespace(spec)) throw new MiniboxError('config.json must ask for a mount namespace: minibox will not pivot_root the host');
    const wanted: EarlyMonitorOptions = {
      newPidNamespace: wantsPidNamespace(spec), terminal: spec.process.terminal === true, stdinPipe: options.stdinPipe === true,
      ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
    };
    if (monitor && !sameStart(monitor.options, wanted)) {
      throw new MiniboxError('the monitor was started for another kind of container (PID namespace, terminal or stdin differ from config.json)');
    }
    monitor ??= startMonitorEarly(wanted);
    return await driveDetachedStart(bundleDir, monitor, options);
  } finally {
    await monitor?.finish('the engine could not start the container'); // an abort only before the bundle
  }
}

function sameStart(started: EarlyMonitorOptions, wanted: EarlyMonitorOptions): boolean {
  return started.newPidNamespace === wanted.newPidNamespace && started.terminal === wanted.terminal
    && (wanted.terminal || started.stdinPipe === wanted.stdinPipe) && started.stdin === wanted.stdin;
}

/** The late options, the bundle, then the start protocol through the monitor (see the header). */
async function driveDetachedStart(bundleDir: string, monitor: EarlyMonitor, options: DetachedOptions): Promise<DetachedStart> {
  // Subscribed first: isTracing() below then tells the init stage to forward its events (over
  // fd 4, through the monitor), so that a detached start is narrated as fully as a foreground one.
  const stopObserving = observe(options);
  try {
    const initPid = await monitor.configure(lateOptions(options));
    const monitorPid = monitor.pid!;
    publishStep('spawn-init', { pid: initPid, monitor: monitorPid });
    options.onMonitorReady?.();
    monitor.sendBundle(path.resolve(bundleDir), isTracing());
    const { toStage, fromStage, control } = monitor.channel;
    const outcome = await driveStart(toStage, fromStage, initPid, {
      ...(options.onNamespacesReady ? { onNamespacesReady: options.onNamespacesReady } : {}),
      ...(monitor.options.terminal ? {
        takeConsole: async (ptmx: string) => {
          const number = await askMonitorForPty(control, monitor.report, ptmx);
          publishStep('monitor-pty', { number, monitor: monitorPid, socket: options.attachSocket ?? '' });
          return number;
        },
      } : {}),
    });
    if (outcome.failure) throw new MiniboxError(outcome.failure.message, outcome.failure.exitCode);
    return { initPid, monitorPid };
  } finally {
    stopObserving(); // startDetached lets go of the monitor (finish): it lives on with the container
  }
}

/** The monitor's options that name the container's files: sent on fd 5 once they exist (early-monitor.ts). */
function lateOptions(options: DetachedOptions): string[] {
  return [
    ...(options.attachSocket ? ['--attach-socket', options.attachSocket] : []),
    '--log', options.logFile, '--status', options.statusFile, '--pids', options.pidsFile,
    ...(options.logLimits && options.logLimits.maxSize > 0
      ? ['--log-max-size', String(options.logLimits.maxSize), '--log-max-files', String(options.logLimits.maxFiles)] : []),
    ...(options.oomFiles ?? []).flatMap((file) => ['--oom-file', file]),
    ...afterExitArgs(options),
  ];
}

/** --tty: the monitor opens the container's pty master itself and answers with its number. */
async function askMonitorForPty(control: NodeJS.WritableStream, report: ReportReader, ptmx: string): Promise<number> {
  control.write(`pty ${ptmx}\n`);
  const answer = await report.next();
  const match = /^pty (\d+)$/.exec(answer);
  if (!match) throw new MiniboxError(`minibox-monitor cannot open the container's terminal: ${answer.replace(/^error /, '')}`);
  return Number(match[1]);
}

/** The monitor's flags for what it does after the exit (native/monitor-after-exit.c). */
function afterExitArgs(options: DetachedOptions): string[] {
  const args: string[] = [];
  if (options.events) {
    // JSON members, sorted as Go marshals a map: the monitor puts them after its own exitCode.
    const members = Object.keys(options.events.attributes).sort()
      .map((key) => `${JSON.stringify(key)}:${JSON.stringify(options.events!.attributes[key])}`).join(',');
    args.push('--events', options.events.file, '--event-id', options.events.id, '--event-attributes', members);
  }
  const restart = options.restart;
  if (restart) {
    args.push('--restart-policy', restart.policy, '--restart-max', String(restart.maximumRetryCount),
      '--restart-count', String(restart.restartCount), '--restart-backoff-ms', String(restart.backoffMs),
      ...restart.command.flatMap((arg) => ['--restart-exec', arg]));
  }
  if (options.health) {
    args.push('--health-interval-ms', String(options.health.intervalMs), ...options.health.command.flatMap((arg) => ['--health-exec', arg]));
  }
  return args;
}
