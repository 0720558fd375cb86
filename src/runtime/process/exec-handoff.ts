/**
 * exec-handoff.ts — the last three moves before Node turns into the container's program.
 *
 * The init stage hands over to the program in three moves (the C exec stage,
 * native/minibox-exec.c, makes the same ones; 1–2 in `prepareHandOver`, before privileges and
 * seccomp; 3 last):
 *   1. only fds 0, 1 and 2 may cross into the program: every other fd is marked close-on-exec
 *      (close_range(2) with CLOSE_RANGE_CLOEXEC). Node marked even 0–2 close-on-exec at start-up
 *      (libuv's uv_disable_stdio_inheritance), so those are cleared again with fcntl(F_SETFD).
 *   2. signals Node ignores (SIGPIPE, SIGXFSZ) would stay ignored in the program — an ignored
 *      disposition survives execve(2) — so they go back to SIG_DFL.
 *   3. execve(2): the program replaces Node; an errno becomes Docker's 126/127 (find-program.ts).
 *
 * Try: `minibox run --rm busybox ls /proc/self/fd` → `0 1 2 3` (stdin, stdout, stderr, and ls's own
 * directory fd: nothing leaked from minibox).
 */
import fs from 'node:fs';
import { SysError } from '../../sys/errno.js';
import { dup2, duplicateAbove, execve, keepAcrossExec, markCloseOnExecFrom, resetSignalToDefault } from '../../sys/process.js';
import { moveChannelTo, TO_PARENT_FD } from '../stages/channel.js';
import { execFailure } from './find-program.js';

/** Signals this thread ignores, from /proc/thread-self/status (SigIgn is a hex bit mask). */
export function ignoredSignals(): number[] {
  const line = fs.readFileSync('/proc/thread-self/status', 'utf8').split('\n').find((l) => l.startsWith('SigIgn:'));
  const mask = BigInt(`0x${line?.split(/\s+/)[1] ?? '0'}`);
  const signals: number[] = [];
  for (let signal = 1; signal <= 31; signal++) if (mask & (1n << BigInt(signal - 1))) signals.push(signal);
  return signals;
}

/**
 * Steps 1–2, called *before* the privileges are dropped and the seccomp filter is loaded: a
 * config.json's profile may deny close_range, fcntl or rt_sigaction (runtime-tools' default
 * profile denies close_range), and the program must still start.
 */
export function prepareHandOver(): void {
  markCloseOnExecFrom(3);
  for (const fd of [0, 1, 2]) keepAcrossExec(fd);
  for (const signal of ignoredSignals()) resetSignalToDefault(signal);
}

/**
 * OCI `--preserve-fds N` (after prepareHandOver): the caller's fds 3…3+N-1 arrived at 5…5+N-1,
 * beside the engine channel on 3 and 4 (run-bundle.ts); they move down to 3…, as runc passes
 * them, and the channel to the engine moves above them (it still reports a failed execve).
 */
export function placePreservedFds(count: number): void {
  if (count === 0) return;
  moveChannelTo(duplicateAbove(TO_PARENT_FD, 5 + count));
  for (let index = 0; index < count; index++) {
    dup2(5 + index, 3 + index);
    keepAcrossExec(3 + index);
  }
}

/** Step 3, after prepareHandOver. `name` is argv[0] as the user typed it (for Docker's error message). */
export function handOverToProgram(program: string, name: string, args: string[], env: string[]): never {
  try {
    return execve(program, [name, ...args], env);
  } catch (error) {
    if (error instanceof SysError) throw execFailure(name, error.code);
    throw error;
  }
}
