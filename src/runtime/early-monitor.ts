/**
 * early-monitor.ts — a detached container's monitor and init stage, started before the container exists.
 *
 * `run -d` used to be serial: the CLI booted, found the image, wrote the bundle, and only then
 * started minibox-monitor, whose child — the init stage, a second Node — needed another ~50–70 ms
 * to boot before it could read config.json. But everything the monitor needs to *fork* the init
 * stage is known from the flags: a new PID namespace (minibox's specs always ask for one), a
 * terminal (-t), a stdin pipe (-i). So the CLI starts `minibox-monitor --early` first
 * (lifecycle/early-init-stage.ts); the stage boots while the engine loads, finds the image and
 * writes the bundle — the two Node start-ups overlap on two cores instead of adding up. Then:
 *
 *   engine ──"LEN\n" + options (log, status, pids, socket…) on fd 5──▶ monitor (native/monitor-control.c)
 *          ◀──────────────── "<init pid>\n" on fd 1: files and socket ready ─────┘
 *          ──{"type":"bundle",…} on fd 3, through the monitor──▶ init stage (stages/channel.ts)
 *
 * and the start protocol as before (monitor.ts, start-protocol.ts). If the engine fails first —
 * no such image, a name in use — `finish()` tells the stage "abort" and ends fd 5: the monitor
 * kills its waiting child (it has touched nothing), reaps it and exits without writing a file.
 * The same happens by itself when the engine dies (Ctrl-C, kill -9): fd 5 then reads end of file.
 * A foreground `run` does the same without a monitor (run-bundle.ts, startInitStageEarly).
 *
 * Try: `minibox run -d busybox sleep 5 >/dev/null && ps -o args= -C minibox-monitor | grep -c -- --early` → `1`
 * (with no other detached container on the machine)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { MiniboxError, describeError } from '../errors.js';
import type { ParentMessage } from './stages/channel.js';
import { nativeProgramPath, stageCommand } from './programs.js';

/** What the monitor must know before it forks the init stage. */
export interface EarlyMonitorOptions {
  /** The spec will ask for a PID namespace (minibox's own specs always do). */
  newPidNamespace: boolean;
  /** The container gets a terminal (-t): the monitor will hold its pty master. */
  terminal: boolean;
  /** `-i` without -t: the container's stdin is a pipe the attach socket writes into. */
  stdinPipe: boolean;
  /** An fd the container gets as stdin (`start -i` through the API); /dev/null otherwise. */
  stdin?: number;
}

export interface ReportReader {
  /** The monitor's next line on fd 1; rejects with its error if it exits first. */
  next(): Promise<string>;
}

/**
 * A monitor whose init stage boots or waits for its bundle: `configure` (the late options), then
 * `sendBundle`, and `finish` in any case (an abort before the bundle, letting go after it).
 */
export class EarlyMonitor {
  private bundleSent = false;
  readonly report: ReportReader;

  constructor(private readonly monitor: ChildProcess, readonly options: EarlyMonitorOptions) {
    this.report = readReport(monitor.stdout!, monitor.stderr!);
    for (const stream of monitor.stdio.slice(3)) stream?.on('error', () => undefined); // EPIPE: the exit tells
  }

  get pid(): number | undefined {
    return this.monitor.pid;
  }

  /** fd 3 (to the init stage, through the monitor), fd 4 (from it) and fd 5 (control, to the monitor). */
  get channel(): { toStage: NodeJS.WritableStream; fromStage: NodeJS.ReadableStream; control: NodeJS.WritableStream } {
    const stdio = this.monitor.stdio as unknown[];
    return { toStage: stdio[3] as NodeJS.WritableStream, fromStage: stdio[4] as NodeJS.ReadableStream, control: stdio[5] as NodeJS.WritableStream };
  }

  /** Sends the options that name the container's files (monitor-control.c); resolves to the init's host pid. */
  async configure(options: string[]): Promise<number> {
    if (this.monitor.pid === undefined) {
      const error = await new Promise<Error>((resolve) => this.monitor.once('error', resolve));
      throw new MiniboxError(`cannot start minibox-monitor: ${describeError(error)}`);
    }
    const body = Buffer.from(options.map((option) => `${option}\0`).join(''));
    const { control } = this.channel;
    control.write(`${body.length}\n`);
    control.write(body);
    // Without a terminal nothing more follows on fd 5; with one, the pty request (monitor.ts).
    if (!this.options.terminal) control.end();
    return Number(await this.report.next());
  }

  /** The first message on fd 3: the init stage leaves its step 0 and reads config.json. */
  sendBundle(dir: string, trace: boolean): void {
    this.bundleSent = true;
    this.channel.toStage.write(`${JSON.stringify({ type: 'bundle', dir, trace } satisfies ParentMessage)}\n`);
  }

  /**
   * This process is done with the monitor. Before the bundle was sent that is an abort: the stage
   * gets "abort" and fd 5 ends, so the stage exits untouched and the monitor reaps it (and, if it
   * had no options yet, leaves without a file); this waits for the monitor's exit. After the
   * bundle, it only lets go: the monitor lives on with the container. Safe to call again.
   */
  async finish(abortMessage: string): Promise<void> {
    const monitor = this.monitor;
    if (!this.bundleSent && monitor.pid !== undefined && monitor.exitCode === null && monitor.signalCode === null) {
      this.bundleSent = true;
      const exited = new Promise((resolve) => monitor.once('exit', resolve));
      const { toStage, control } = this.channel;
      toStage.end(`${JSON.stringify({ type: 'abort', message: abortMessage } satisfies ParentMessage)}\n`);
      control.end(); // before the options: the monitor cleans up; after them: nothing more to ask
      await exited; // the monitor has reaped the stage: no process is left
    }
    this.bundleSent = true;
    for (const stream of monitor.stdio) stream?.destroy();
    monitor.unref(); // this process may exit
  }
}

/**
 * Starts `minibox-monitor --early`, which forks the init stage at once; the stage waits for its
 * bundle. Hand the result to startDetached (monitor.ts), or `finish()` it (an abort).
 */
export function startMonitorEarly(options: EarlyMonitorOptions): EarlyMonitor {
  const flags = [
    '--early',
    ...(options.newPidNamespace ? ['--new-pid-namespace'] : []),
    ...(options.terminal ? ['--tty'] : options.stdinPipe && options.stdin === undefined ? ['--stdin-pipe'] : []),
  ];
  // No bundle on the stage's command line: it comes over fd 3 (channel.ts, step 0 of init-stage.ts).
  const monitor = spawn(nativeProgramPath('minibox-monitor'), [...flags, '--', ...stageCommand('init-stage', []).flat()], {
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
    detached: true, // a session of its own: the terminal's hangup or Ctrl-C never reaches it
    env: {},
  });
  return new EarlyMonitor(monitor, options);
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
