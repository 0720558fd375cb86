/**
 * early-init-stage.ts — a foreground `minibox run` starts its container's init stage first.
 *
 * The init stage (runtime/stages/init-stage.ts) is a second Node process: ~50–70 ms of start-up and
 * module loading before it can do anything. Started after the bundle exists, that time adds to
 * the CLI's own. Started as soon as the flags say "a container will run in the foreground", it
 * boots while the CLI loads the engine, finds the image and writes the bundle; the bundle
 * directory then reaches it as the first message on fd 3 (runtime/stages/channel.ts).
 *
 * This module is deliberately small (it imports only runtime/run-bundle.js and
 * runtime/early-monitor.js), so the CLI can call it *before* loading the rest of the engine.
 * What the stage needs is known from the flags:
 * a new PID namespace (minibox's specs always ask for one), a terminal with -t, and whether the
 * container reads stdin (-i). What the overlap saves, and why it is less than one Node
 * start-up on a 2-core machine: docs/benchmarks.md ("Overlapping the two Node start-ups").
 *
 * `run -d` starts its stage early too, under its minibox-monitor (runtime/early-monitor.ts): the
 * monitor forks the stage from the same flags and learns the container's files when they exist.
 *
 * Try: `minibox run --rm --explain busybox true 2>&1 | grep 'PID 1 of'` → `PID 1 of a new PID namespace: the
 * init stage`
 */
import { startInitStageEarly, type EarlyInitStage, type RunOptions } from '../runtime/run-bundle.js';
import { startMonitorEarly, type EarlyMonitor } from '../runtime/early-monitor.js';

export interface ForegroundFlags {
  interactive?: boolean;
  tty?: boolean;
}

/**
 * Without -i the container's stdin is empty, as with `docker run` (a terminal still gets one).
 * Either way its streams are pipes the engine relays, never this process's own fds
 * (runtime/stdio-relay.ts).
 */
export function foregroundStdio(flags: ForegroundFlags): NonNullable<RunOptions['stdio']> {
  return flags.interactive || flags.tty ? 'relay' : 'relay-output';
}

/** Starts the init stage for a foreground run; hand it to runContainerFromImage, which sends the bundle or aborts it. */
export function startForegroundInitStage(flags: ForegroundFlags): EarlyInitStage {
  return startInitStageEarly({ newPidNamespace: true, terminal: flags.tty === true, stdio: foregroundStdio(flags) });
}

/** Starts the monitor and init stage of a detached run (`run -d`); hand it to runDetached, which configures or aborts it. */
export function startDetachedInitStage(flags: ForegroundFlags): EarlyMonitor {
  return startMonitorEarly({ newPidNamespace: true, terminal: flags.tty === true, stdinPipe: flags.interactive === true });
}
