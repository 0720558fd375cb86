/**
 * call.ts — the single gate every FFI kernel call passes through.
 *
 * `invoke('mount', args, () => libc.mount(...))` runs the C function, reads errno right after it
 * (before any other libc call can overwrite it), throws a `SysError` naming the call when the
 * result is -1 (libseccomp instead returns -errno itself: `returnsNegativeErrno`), and publishes
 * a trace event (trace.ts) either way.
 *
 * Try: `minibox run --rm --trace t.json busybox true && grep -c '"call":"pivot_root"' t.json` → `1`
 */
import { lastErrno } from './libc.js';
import { SysError, errnoName } from './errno.js';
import { isTracing, publish } from './trace.js';

export interface InvokeOptions {
  /** What the call acted on, for the error message: a path, a pid, a namespace. */
  what?: string;
  /** Advice added to the error message when the call fails. */
  hint?: (errno: string) => string | undefined;
  /**
   * The function reports failure as `-errno` in its result (libseccomp's style) instead of
   * returning -1 and setting errno (libc's style).
   */
  returnsNegativeErrno?: boolean;
}

export function invoke(call: string, args: Record<string, unknown>, fn: () => number, options: InvokeOptions = {}): number {
  const tracing = isTracing();
  const start = tracing ? performance.now() : 0;
  const result = Number(fn());
  const errno = result >= 0 ? 0 : options.returnsNegativeErrno ? -result : lastErrno();
  if (tracing) {
    publish({
      kind: 'syscall', call, args, result,
      ...(result < 0 ? { error: errnoName(errno) } : {}),
      ms: performance.now() - start, pid: process.pid, time: Date.now(),
    });
  }
  if (result < 0) throw new SysError(call, errno, options.what, options.hint?.(errnoName(errno)));
  return result;
}

/** Turns a bit mask into `A|B|C` using a table of named flags (for traces and errors). */
export function flagNames(value: number, table: Record<string, number>): string {
  const names: string[] = [];
  let rest = value;
  for (const [name, bit] of Object.entries(table)) {
    if (bit !== 0 && (value & bit) === bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names.length > 0 ? names.join('|') : '0';
}
