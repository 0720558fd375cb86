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
 * The engine reads the init's host pid from the monitor, then speaks the same start protocol as
 * a foreground run (start-protocol.ts): namespaces ready → hooks (cgroups, network) → "go" →
 * end of file on fd 4 = the program runs. Then it closes its ends and returns; the monitor keeps
 * the container's stdout/stderr (→ json-file log), reaps it, and writes its exit status.
 * With -t (`run -dit`) the monitor, not the engine, holds the pty master — it must outlive this
 * command: when the init stage says "devpts-ready", the engine asks the monitor on fd 5
 * ("pty PATH"), and passes the number it answers on to the init stage. Every detached container
 * gets an attach socket (native/monitor-attach.c) for `minibox attach`.
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && ps -o rss=,args= -C
 * minibox-monitor` → `minibox-monitor`
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { isTracing, publishStep } from '../sys/trace.js';
import { MiniboxError, describeError } from '../errors.js';
import { readBundle } from '../bundle/oci-bundle.js';
import { wantsMountNamespace, wantsPidNamespace } from './namespace-table.js';
import { nativeProgramPath, stageCommand } from './programs.js';
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
}

export interface DetachedStart {
  /** The container's init process, as the host numbers it. */
  initPid: number;
  monitorPid: number;
}

export async function startDetached(bundleDir: string, options: DetachedOptions): Promise<DetachedStart> {
  let spec;
  try {
    spec = readBundle(bundleDir).spec;
  } catch (error) {
    throw new MiniboxError(describeError(error));
  }
  if (!wantsMountNamespace(spec)) throw new MiniboxError('config.json must ask for a mount namespace: minibox will not pivot_root the host');
  const terminal = spec.process.terminal === true;
  // Subscribed first: isTracing() below then tells the init stage to forward its events (over
  // fd 4, through the monitor), so that a detached start is narrated as fully as a foreground one.
  const stopObserving = observe(options);
  const args = [
    ...(wantsPidNamespace(spec) ? ['--new-pid-namespace'] : []),
    ...(terminal ? ['--tty'] : options.stdinPipe && options.stdin === undefined ? ['--stdin-pipe'] : []),
    ...(options.attachSocket ? ['--attach-socket', options.attachSocket] : []),
    '--log', options.logFile, '--status', options.statusFile, '--pids', options.pidsFile,
    ...(options.logLimits && options.logLimits.maxSize > 0
      ? ['--log-max-size', String(options.logLimits.maxSize), '--log-max-files', String(options.logLimits.maxFiles)] : []),
    ...(options.oomFiles ?? []).flatMap((file) => ['--oom-file', file]),
    ...afterExitArgs(options),
    '--', ...stageCommand('init-stage', [path.resolve(bundleDir), ...(isTracing() ? ['--trace'] : [])]).flat(),
  ];
  const monitor = spawn(nativeProgramPath('minibox-monitor'), args, {
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe', 'pipe', 'pipe', ...(terminal ? ['pipe' as const] : [])],
    detached: true, // a session of its own: the terminal's hangup or Ctrl-C never reaches it
    env: {},
  });
  try {
    const monitorPid = monitor.pid;
    if (monitorPid === undefined) {
      const error = await new Promise<Error>((resolve) => monitor.once('error', resolve));
      throw new MiniboxError(`cannot start minibox-monitor: ${describeError(error)}`);
    }
    const report = readReport(monitor.stdout!, monitor.stderr!);
    const initPid = Number(await report.next());
    publishStep('spawn-init', { pid: initPid, monitor: monitorPid });
    options.onMonitorReady?.();
    const control = (monitor.stdio as unknown[])[5] as NodeJS.WritableStream | undefined;
    control?.on('error', () => undefined);
    const outcome = await driveStart(monitor.stdio[3] as NodeJS.WritableStream, monitor.stdio[4] as NodeJS.ReadableStream, initPid, {
      ...(options.onNamespacesReady ? { onNamespacesReady: options.onNamespacesReady } : {}),
      ...(control ? {
        takeConsole: async (ptmx: string) => {
          const number = await askMonitorForPty(control, report, ptmx);
          publishStep('monitor-pty', { number, monitor: monitorPid, socket: options.attachSocket ?? '' });
          return number;
        },
      } : {}),
    });
    if (outcome.failure) throw new MiniboxError(outcome.failure.message, outcome.failure.exitCode);
    return { initPid, monitorPid };
  } finally {
    stopObserving();
    for (const stream of monitor.stdio) stream?.destroy();
    monitor.unref(); // the monitor lives on; this process may exit
  }
}

/** --tty: the monitor opens the container's pty master itself and answers with its number. */
async function askMonitorForPty(control: NodeJS.WritableStream, report: ReportReader, ptmx: string): Promise<number> {
  control.write(`pty ${ptmx}\n`);
  const answer = await report.next();
  const match = /^pty (\d+)$/.exec(answer);
  if (!match) throw new MiniboxError(`minibox-monitor cannot open the container's terminal: ${answer.replace(/^error /, '')}`);
  return Number(match[1]);
}

interface ReportReader {
  /** The monitor's next line on fd 1; rejects with its error if it exits first. */
  next(): Promise<string>;
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

/** The monitor's reports: the init's pid on a line (then, with --tty, the answer about the pty), or an error on stderr. */
function readReport(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream): ReportReader {
  let text = '';
  let errors = '';
  let ended = false;
  const waiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  const failure = (): Error => new MiniboxError(errors.trim().split('\n')[0] || 'minibox-monitor exited before starting the container');
  const deliver = (): void => {
    for (let newline = text.indexOf('\n'); newline >= 0 && waiting.length > 0; newline = text.indexOf('\n')) {
      waiting.shift()!.resolve(text.slice(0, newline));
      text = text.slice(newline + 1);
    }
    if (ended) for (const waiter of waiting.splice(0)) waiter.reject(failure());
  };
  stderr.on('data', (chunk: Buffer) => { errors += chunk.toString(); });
  stderr.on('error', () => undefined);
  stdout.on('error', () => undefined);
  stdout.on('data', (chunk: Buffer) => { text += chunk.toString(); deliver(); });
  // Give stderr a moment to deliver the monitor's last words.
  stdout.on('end', () => setImmediate(() => { ended = true; deliver(); }));
  return {
    next: async () => await new Promise<string>((resolve, reject) => { waiting.push({ resolve, reject }); deliver(); }),
  };
}
