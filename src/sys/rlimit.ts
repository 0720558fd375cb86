/**
 * rlimit.ts — per-process resource limits (getrlimit(2) family), set on *another* process.
 *
 * A limit has a soft value (what the kernel enforces) and a hard value (the ceiling the soft one
 * may be raised to without CAP_SYS_RESOURCE). They are inherited across fork and kept across
 * execve, so the runtime can set them on the waiting init stage from outside with prlimit(2)
 * — the program it becomes starts with them. config.json names them `RLIMIT_NOFILE` and so on.
 *
 * Try: `prlimit --pid $$ --nofile` → `NOFILE` (the current shell's limit; `ulimit -n` its soft one).
 */
import { libcFunction } from './libc.js';
import { invoke } from './call.js';

/** The resource numbers of <sys/resource.h> on Linux. */
export const RLIMIT: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

const prlimitFn = libcFunction<(pid: number, resource: number, limit: Buffer, old: null) => number>(
  'int prlimit(int pid, int resource, const void *new_limit, void *old_limit)');

/** prlimit(pid, resource, {soft, hard}): 2^64-1 (RLIM_INFINITY) is "unlimited". */
export function setProcessLimit(pid: number, name: string, soft: bigint, hard: bigint): void {
  const resource = RLIMIT[name];
  if (resource === undefined) throw new Error(`unknown rlimit type ${name} (known: ${Object.keys(RLIMIT).join(', ')})`);
  const limit = Buffer.alloc(16);
  limit.writeBigUInt64LE(soft, 0);
  limit.writeBigUInt64LE(hard, 8);
  invoke('prlimit', { pid, resource: name, soft: String(soft), hard: String(hard) },
    () => prlimitFn()(pid, resource, limit, null), { what: `${name} of process ${pid}` });
}
