/**
 * trace.ts — every kernel call minibox makes can be watched.
 *
 * `invoke()` (call.ts) publishes one `SysEvent` per call: its name, its arguments decoded into
 * words (flag names, paths), the result and how long it took. `minibox run --explain` turns
 * these events into sentences for a student; `--trace FILE` writes them as JSON lines; unit
 * tests subscribe to check *which* calls happen and in what order.
 *
 * Steps that are not a single syscall but still change the kernel's view of a container
 * (writing a cgroup file, creating a veth) are published the same way with `kind: 'step'`.
 *
 * Try: `minibox run --rm --trace t.json busybox true && grep -c '"kind":"step","call":"spawn-init"'
 * t.json` → `1`
 */

export interface SysEvent {
  /** 'syscall' for a libc/kernel call, 'step' for a higher-level kernel-facing action. */
  kind: 'syscall' | 'step';
  /** The call's name: `mount`, `unshare`, `pivot_root`, `cgroup.write`… */
  call: string;
  /** Arguments, decoded for humans: `{ flags: 'MS_BIND|MS_REC', target: '/proc' }`. */
  args: Record<string, unknown>;
  /** 0 or a positive return value on success. */
  result: number;
  /** Set when the call failed: `EPERM`, `ENOENT`… */
  error?: string;
  /** Wall time the call took, in milliseconds. */
  ms: number;
  /** Process that made the call (the init stage and the engine are different processes). */
  pid: number;
  /** Milliseconds since the epoch. */
  time: number;
}

type Listener = (event: SysEvent) => void;
const listeners = new Set<Listener>();

/** Subscribe to kernel-call events; returns the function that unsubscribes. */
export function onSysEvent(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** True when someone listens, so callers can skip decoding arguments when nobody does. */
export function isTracing(): boolean {
  return listeners.size > 0;
}

export function publish(event: SysEvent): void {
  for (const listener of listeners) listener(event);
}

/**
 * Publish a kernel-facing step that is not one syscall (e.g. a cgroup file write); `ms` is how
 * long it took, when the caller timed it (a network command, a layer's download and unpack).
 */
export function publishStep(call: string, args: Record<string, unknown>, error?: string, ms = 0): void {
  if (!isTracing()) return;
  publish({ kind: 'step', call, args, result: error ? -1 : 0, ...(error ? { error } : {}), ms, pid: process.pid, time: Date.now() });
}
