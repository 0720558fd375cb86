/**
 * process-handle.ts — naming a process so that a reused pid is never mistaken for it.
 *
 * Pids are recycled: once a container's init has exited and been reaped, the kernel may give its
 * number to any new process. A record that says "pid 4242 is our container" would then make
 * minibox signal, or report as "Up", a stranger. /proc/PID/stat field 22 (`starttime`, clock
 * ticks since boot) never changes for a process and differs for the next owner of the number,
 * so minibox stores *pid + start time* and trusts a pid only when both still match. (pidfd_open(2)
 * is the race-free version of the same idea; a handle on disk must outlive any one process.)
 * To *wait* for the end of a process it did not start (`rm -f`, `stop`), minibox turns the handle
 * into a pidfd once it has checked it (sys/pidfd.ts) and sleeps until the kernel says "exited".
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox inspect --format
 * '{{.State.Running}}' web` → `true` (its PID and that PID's start time both match).
 */
import fs from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { closePidfd, openPidfd, pollPidfd } from '../sys/pidfd.js';

export interface ProcessHandle {
  pid: number;
  /** /proc/PID/stat field 22. */
  startTime: number;
}

interface StatFields { state: string; startTime: number }

function readStat(pid: number): StatFields | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 is "(command)" and may contain spaces or ')': fields are counted after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = Number(rest[22 - 3]);
  if (state === undefined || !Number.isFinite(startTime)) return undefined;
  return { state, startTime };
}

/** The handle of a live process now, or undefined when it is gone. */
export function handleOf(pid: number): ProcessHandle | undefined {
  const stat = readStat(pid);
  return stat ? { pid, startTime: stat.startTime } : undefined;
}

/** True while the very process the handle names still runs (a zombie has finished running). */
export function isRunning(handle: ProcessHandle | undefined): boolean {
  if (!handle || handle.pid <= 0) return false;
  const stat = readStat(handle.pid);
  return stat !== undefined && stat.startTime === handle.startTime && stat.state !== 'Z' && stat.state !== 'X';
}

/** Sends a signal to the process the handle names, if it is still that process. */
export function signalProcess(handle: ProcessHandle, signal: NodeJS.Signals | number): boolean {
  if (!isRunning(handle)) return false;
  try {
    process.kill(handle.pid, signal);
    return true;
  } catch {
    return false; // it exited between the check and the kill
  }
}

/** How long one synchronous poll(2) may hold the event loop: a wait yields between slices. */
const WAIT_SLICE_MS = 10;

/**
 * Waits up to `timeoutMs` for the process the handle names to end; true once it has (or if it
 * already had). It sleeps on a pidfd (sys/pidfd.ts), so it returns the moment the process exits
 * instead of at the next tick of a polling loop.
 */
export async function waitUntilExited(handle: ProcessHandle | undefined, timeoutMs: number): Promise<boolean> {
  if (!handle || !isRunning(handle)) return true;
  const fd = openPidfd(handle.pid);
  if (fd === undefined) return true;
  try {
    // Checked again now that the fd pins the process: if the pid was recycled before
    // pidfd_open, the fd names a stranger, whose start time differs.
    if (!isRunning(handle)) return true;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (pollPidfd(fd, Math.min(WAIT_SLICE_MS, deadline - Date.now()))) return true;
      if (Date.now() >= deadline) return !isRunning(handle);
      await nextTurn();
    }
  } finally {
    closePidfd(fd);
  }
}
