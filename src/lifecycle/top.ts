/**
 * top.ts — `minibox top`: the container's processes, as the host sees them.
 *
 * A container is not a thing the kernel knows; its processes are ordinary host processes that
 * happen to share namespaces. "The processes of this container" is therefore a question asked of
 * /proc: every /proc/<pid>/ns/pid link names a PID namespace (`pid:[4026532301]`), and a process
 * belongs to the container when its link equals the one of the container's PID 1. The host's
 * `ps` then describes them with host PIDs and host user ids — which is what Docker does too
 * (moby daemon/top_unix.go): run `ps ARGS -q PID,PID…`, find the PID column in the header, keep
 * the rows of the container's processes, and split each row into as many fields as the header
 * has titles (the last one, CMD, keeps its spaces).
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox top web` → `sleep 60`
 * (host PIDs; `minibox exec web ps` shows the same process as PID 1).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { MiniboxError, VerbError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { runningContainerPid } from './exec.js';
import { findContainer } from '../container/container-store.js';

export interface ContainerTop {
  Titles: string[];
  Processes: string[][];
}

/** Host PIDs of every process in the PID namespace of `pid` (threads are not listed in /proc). */
export function processesInPidNamespaceOf(pid: number): number[] {
  const namespace = fs.readlinkSync(`/proc/${pid}/ns/pid`);
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/ns/pid`) === namespace) pids.push(Number(entry));
    } catch { /* exited meanwhile, or a kernel thread */ }
  }
  return pids.sort((a, b) => a - b);
}

function runPs(args: string[]): string {
  const result = spawnSync('ps', args, { encoding: 'utf8' });
  if (result.error) throw new MiniboxError(`cannot run ps: ${result.error.message}`);
  if (result.status !== 0) throw new MiniboxError(`ps ${args.join(' ')} failed: ${result.stderr.trim().split('\n')[0] ?? ''}`);
  return result.stdout;
}

/** Parses `ps` output into titles and the rows of `pids`, like Docker's parsePSOutput. */
export function parsePsOutput(output: string, pids: number[]): ContainerTop {
  const lines = output.split('\n').filter((line) => line.trim() !== '');
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new MiniboxError('Couldn\'t find PID field in ps output');
  const wanted = new Set(pids);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    const pidField = fields[pidIndex];
    if (pidField === undefined || pidField === '-' || !wanted.has(Number(pidField))) continue;
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  }
  return { Titles: titles, Processes: processes };
}

/** `top CONTAINER [ps OPTIONS]`; psArgs defaults to Docker's `-ef`. */
export async function containerTop(root: StateRoot, idOrName: string, psArgs: string[] = []): Promise<ContainerTop> {
  const record = findContainer(root, idOrName);
  const pid = await runningContainerPid(root, record);
  if (pid === undefined) throw new VerbError(`container ${record.Id} is not running`);
  const args = psArgs.length > 0 ? psArgs : ['-ef'];
  const pids = processesInPidNamespaceOf(pid);
  let output: string;
  try {
    output = runPs([...args, '-q', pids.join(',')]); // ask ps for only these…
  } catch {
    output = runPs(args); // …unless the options do not mix with -q (e.g. `f`): then filter it all
  }
  return parsePsOutput(output, pids);
}
