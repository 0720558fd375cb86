/**
 * process.ts — the calls that shape *who* a process is and *what it becomes*: its user and groups
 * (setgroups/setresgid/setresuid), its privileges (capset, prctl), its file descriptors
 * (close_range, fcntl), its signal dispositions, its session (setsid), and finally execve(2).
 *
 * execve replaces the calling process's program — for Node, every thread, the V8 heap and the
 * event loop vanish, and the new program starts with the same PID, namespaces, mounts, credentials
 * and open (not close-on-exec) file descriptors. Everything a container *is* must be in place
 * before this one call.
 *
 * Capabilities and prctl settings are per *thread*: they must be set on the thread that calls
 * execve (Node's main thread). glibc's setres[ug]id/setgroups change every thread at once.
 *
 * Try: `minibox run --rm -u 4242 busybox grep Uid /proc/self/status` → `Uid: 4242 4242 4242 4242`
 * (real, effective, saved, file system: setresuid(2) set them all).
 */
import { libcFunction, koffi } from './libc.js';
import { invoke } from './call.js';
import { publish, isTracing } from './trace.js';

const setgroupsFn = libcFunction<(size: number, list: Buffer) => number>('int setgroups(size_t size, const void *list)');
const setresuidFn = libcFunction<(r: number, e: number, s: number) => number>('int setresuid(uint32_t r, uint32_t e, uint32_t s)');
const setresgidFn = libcFunction<(r: number, e: number, s: number) => number>('int setresgid(uint32_t r, uint32_t e, uint32_t s)');
const capsetFn = libcFunction<(header: Buffer, data: Buffer) => number>('int capset(void *header, const void *data)');
const prctlFn = libcFunction<(option: number, ...typed: unknown[]) => number>('int prctl(int option, ...)');
const closeRangeFn = libcFunction<(first: number, last: number, flags: number) => number>(
  'int close_range(unsigned int first, unsigned int last, int flags)');
const fcntlFn = libcFunction<(fd: number, cmd: number, ...typed: unknown[]) => number>('int fcntl(int fd, int cmd, ...)');
const signalFn = libcFunction<(signal: number, handler: null) => unknown>('void *signal(int signum, void *handler)');
const setsidFn = libcFunction<() => number>('int setsid(void)');
const dup2Fn = libcFunction<(from: number, to: number) => number>('int dup2(int oldfd, int newfd)');
const execveFn = libcFunction<(path: string, argv: (string | null)[], envp: (string | null)[]) => number>(
  'int execve(const char *path, const char **argv, const char **envp)');

/** Declares every function above now, while the host's libc is still reachable (before pivot_root). */
export function declareProcessCalls(): void {
  for (const declare of [setgroupsFn, setresuidFn, setresgidFn, capsetFn, prctlFn, closeRangeFn,
    fcntlFn, signalFn, setsidFn, dup2Fn, execveFn]) declare();
}

/** setgroups(2): the supplementary groups (an empty list drops the host's groups). */
export function setgroups(gids: number[]): void {
  const list = Buffer.alloc(Math.max(4, gids.length * 4));
  gids.forEach((gid, i) => list.writeUInt32LE(gid, i * 4));
  invoke('setgroups', { gids: gids.join(',') || '(none)' }, () => setgroupsFn()(gids.length, list));
}

/** setresgid(2): real, effective and saved group id all become `gid`. */
export function setresgid(gid: number): void {
  invoke('setresgid', { gid }, () => setresgidFn()(gid, gid, gid), { what: `gid ${gid}` });
}

/** setresuid(2): real, effective and saved user id all become `uid`. */
export function setresuid(uid: number): void {
  invoke('setresuid', { uid }, () => setresuidFn()(uid, uid, uid), { what: `uid ${uid}` });
}

/** The three capability sets of a thread, as bit masks (bit n = capability number n). */
export interface CapabilitySets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

const CAPABILITY_VERSION_3 = 0x20080522;

function capHeader(): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(CAPABILITY_VERSION_3, 0); // pid 0 = the calling thread
  return header;
}


/** capset(2): sets the calling thread's effective, permitted and inheritable sets. */
export function capset(sets: CapabilitySets, decoded: Record<string, unknown> = {}): void {
  const data = Buffer.alloc(24); // two struct __user_cap_data_struct: low 32 bits, then high 32 bits
  const write = (value: bigint, offset: number): void => {
    data.writeUInt32LE(Number(value & 0xffffffffn), offset);
    data.writeUInt32LE(Number(value >> 32n), offset + 12);
  };
  write(sets.effective, 0);
  write(sets.permitted, 4);
  write(sets.inheritable, 8);
  invoke('capset', decoded, () => capsetFn()(capHeader(), data));
}

/** prctl(2) options minibox uses. */
export const PR = {
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  CAPBSET_DROP: 24,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;

const prNames: Record<number, string> = {
  4: 'PR_SET_DUMPABLE', 8: 'PR_SET_KEEPCAPS', 24: 'PR_CAPBSET_DROP', 38: 'PR_SET_NO_NEW_PRIVS', 47: 'PR_CAP_AMBIENT',
};

/** prctl(2) with up to two integer arguments; `decoded` names them for traces. */
export function prctl(option: number, arg2 = 0, arg3 = 0, decoded: Record<string, unknown> = {}): void {
  const ul = 'unsigned long';
  invoke('prctl', { option: prNames[option] ?? option, ...decoded },
    () => prctlFn()(option, ul, arg2, ul, arg3, ul, 0, ul, 0), { what: prNames[option] });
}

export const CLOSE_RANGE_CLOEXEC = 1 << 2;

/** close_range(2) with CLOSE_RANGE_CLOEXEC: every fd >= `first` will close at execve. */
export function markCloseOnExecFrom(first: number): void {
  invoke('close_range', { first, last: '~0U', flags: 'CLOSE_RANGE_CLOEXEC' },
    () => closeRangeFn()(first, 0xffffffff, CLOSE_RANGE_CLOEXEC));
}

const F_SETFD = 2;
const F_DUPFD_CLOEXEC = 1030;

/** fcntl(F_DUPFD_CLOEXEC): a close-on-exec copy of `fd` at the lowest free number ≥ `lowest`. */
export function duplicateAbove(fd: number, lowest: number): number {
  return invoke('fcntl', { fd, cmd: 'F_DUPFD_CLOEXEC', lowest }, () => fcntlFn()(fd, F_DUPFD_CLOEXEC, 'int', lowest), { what: `fd ${fd}` });
}

/** Clears FD_CLOEXEC on `fd`, so the next program inherits it. */
export function keepAcrossExec(fd: number): void {
  invoke('fcntl', { fd, cmd: 'F_SETFD', flags: 0 }, () => fcntlFn()(fd, F_SETFD, 'int', 0), { what: `fd ${fd}` });
}

/** signal(2) back to SIG_DFL: ignored signals stay ignored across execve, so undo Node's choices. */
export function resetSignalToDefault(signal: number): void {
  // signal() returns SIG_ERR ((void *)-1) on failure; a null or other pointer means success.
  invoke('signal', { signal, handler: 'SIG_DFL' }, () => {
    const previous = signalFn()(signal, null);
    return previous !== null && koffi().address(previous) === 0xffffffffffffffffn ? -1 : 0;
  });
}

/** setsid(2): a new session with no controlling terminal; the caller leads it. */
export function setsid(): void {
  invoke('setsid', {}, () => setsidFn()());
}

/** dup2(2): make `to` refer to the same open file as `from`. */
export function dup2(from: number, to: number): void {
  invoke('dup2', { from, to }, () => dup2Fn()(from, to));
}

/**
 * execve(2). On success it never returns, so the trace event is published first; on failure it
 * throws a SysError naming the program.
 */
export function execve(path: string, argv: string[], env: string[]): never {
  if (isTracing()) {
    publish({ kind: 'step', call: 'execve', args: { path, argv }, result: 0, ms: 0, pid: process.pid, time: Date.now() });
  }
  invoke('execve', { path }, () => execveFn()(path, [...argv, null], [...env, null]), { what: path });
  throw new Error(`execve ${path} returned without an error`);
}
