/**
 * signal-relay.ts — signals sent to minibox go on to the container (Docker's "sig-proxy").
 *
 * A foreground `minibox run` or `exec` stands between you and the container's program: Ctrl-C
 * (SIGINT from your terminal) or `kill <minibox pid>` reach minibox, not the program, which runs
 * in its own session (the stage was spawned `detached`, so your terminal's signals never reach it
 * directly). minibox catches them and sends each once, with kill(2), to the stage's host PID — the
 * program's, once it has exec'd. The program decides whether to die; minibox then exits with its
 * status or 128+n (errors.ts: signalExitCode).
 * With -t, Ctrl-C is a byte: the container's own pty turns it into SIGINT for *its* foreground
 * process group. Only SIGTERM (someone killing minibox) and SIGHUP (your terminal went away: the
 * container's pty is hung up too) are forwarded then.
 * There is one owner: the supervisor (supervise.ts) installs this relay for as long as the stage
 * lives; lifecycle/run.ts only decides what a signal means *before* a container exists.
 *
 * Try: `minibox run --rm busybox sh -c 'trap "echo got TERM" TERM; while :; do sleep 1; done' &
 * sleep 3; kill %1; wait` → `got TERM` (once).
 */
import type { ChildProcess } from 'node:child_process';

/** The signals minibox passes on (Docker's sig-proxy passes every catchable one; these are the ones users send). */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** With a terminal: the keyboard's signals travel as bytes through the pty instead. */
export const TERMINAL_FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];

export interface SignalRelayOptions {
  terminal: boolean;
  /** Called on SIGHUP before it is forwarded (the terminal relay hangs up the container's pty). */
  onHangup?: () => void;
}

/** Forwards minibox's signals to `child` until the returned function is called. */
export function relaySignals(child: ChildProcess, options: SignalRelayOptions): () => void {
  const signals = options.terminal ? TERMINAL_FORWARDED_SIGNALS : FORWARDED_SIGNALS;
  const forward = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGHUP') options.onHangup?.();
    child.kill(signal);
  };
  for (const signal of signals) process.on(signal, forward);
  return () => {
    for (const signal of signals) process.off(signal, forward);
  };
}
