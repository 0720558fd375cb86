/**
 * process-limits.ts — config.json's `process.rlimits` and `process.oomScoreAdj`, set on the
 * waiting init stage from outside, before its program exists.
 *
 *   rlimits      prlimit(2) on the init's pid (sys/rlimit.ts): inherited by the program it execs
 *   oomScoreAdj  written to /proc/PID/oom_score_adj (-1000 … 1000): how eagerly the kernel's OOM
 *                killer picks this process and its children
 * Both happen at "namespaces ready" (start-protocol.ts), so they are in place before any
 * container code runs — as runc does them in its parent process.
 *
 * Try: `cp -a $BUNDLE b && jq '.process.args=["sh","-c","ulimit -n"] |
 * .process.rlimits=[{"type":"RLIMIT_NOFILE","hard":512,"soft":256}]' $BUNDLE/config.json >
 * b/config.json && minibox-runc run --bundle b c1` → `256`.
 */
import fs from 'node:fs';
import { setProcessLimit } from '../sys/rlimit.js';
import { publishStep } from '../sys/trace.js';

export interface SpecRlimit { type: string; soft: number; hard: number }

/** JSON numbers are doubles: 2^64-1 (RLIM_INFINITY) arrives rounded up to 2^64. */
function u64(value: number): bigint {
  return value >= 2 ** 64 - 1 ? 0xffff_ffff_ffff_ffffn : BigInt(Math.trunc(value));
}

export function applyProcessLimits(pid: number, process: { rlimits?: SpecRlimit[]; oomScoreAdj?: number }): void {
  for (const limit of process.rlimits ?? []) setProcessLimit(pid, limit.type, u64(limit.soft), u64(limit.hard));
  if (process.oomScoreAdj !== undefined) {
    fs.writeFileSync(`/proc/${pid}/oom_score_adj`, String(process.oomScoreAdj));
    publishStep('oom_score_adj', { pid, value: process.oomScoreAdj });
  }
}
