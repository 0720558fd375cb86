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
import { driveStart, observe, type ObserveOptions } from './start-protocol.js';

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
  /** An fd to hand to the container as stdin (`start -i`); /dev/null otherwise. */
  stdin?: number;
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
  if (spec.process.terminal) throw new MiniboxError('a detached container cannot have a terminal yet: run it without -t, or in the foreground');
  // Observing first: isTracing() below then asks the init stage to send its kernel calls too.
  const stopObserving = observe(options);
  const args = [
    ...(wantsPidNamespace(spec) ? ['--new-pid-namespace'] : []),
    '--log', options.logFile, '--status', options.statusFile, '--pids', options.pidsFile,
    ...(options.logLimits && options.logLimits.maxSize > 0
      ? ['--log-max-size', String(options.logLimits.maxSize), '--log-max-files', String(options.logLimits.maxFiles)] : []),
    ...(options.oomFiles ?? []).flatMap((file) => ['--oom-file', file]),
    '--', ...stageCommand('init-stage', [path.resolve(bundleDir), ...(isTracing() ? ['--trace'] : [])]).flat(),
  ];
  const monitor = spawn(nativeProgramPath('minibox-monitor'), args, {
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    detached: true, // a session of its own: the terminal's hangup or Ctrl-C never reaches it
    env: {},
  });
  try {
    const monitorPid = monitor.pid;
    if (monitorPid === undefined) {
      const error = await new Promise<Error>((resolve) => monitor.once('error', resolve));
      throw new MiniboxError(`cannot start minibox-monitor: ${describeError(error)}`);
    }
    const initPid = await readReport(monitor.stdout!, monitor.stderr!);
    publishStep('spawn-init', { pid: initPid, monitor: monitorPid });
    const outcome = await driveStart(monitor.stdio[3] as NodeJS.WritableStream, monitor.stdio[4] as NodeJS.ReadableStream, initPid,
      options.onNamespacesReady ? { onNamespacesReady: options.onNamespacesReady } : {});
    if (outcome.failure) throw new MiniboxError(outcome.failure.message, outcome.failure.exitCode);
    return { initPid, monitorPid };
  } finally {
    stopObserving();
    for (const stream of monitor.stdio) stream?.destroy();
    monitor.unref(); // the monitor lives on; this process may exit
  }
}

/** The monitor's one report: the init's pid on a line, or an error on stderr. */
async function readReport(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream): Promise<number> {
  let text = '';
  let errors = '';
  stderr.on('data', (chunk: Buffer) => { errors += chunk.toString(); });
  stderr.on('error', () => undefined);
  stdout.on('error', () => undefined);
  return await new Promise<number>((resolve, reject) => {
    stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /^(\d+)\n/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    stdout.on('end', () => {
      // Give stderr a moment to deliver the monitor's last words.
      setImmediate(() => reject(new MiniboxError(errors.trim().split('\n')[0] || 'minibox-monitor exited before starting the container')));
    });
  });
}
