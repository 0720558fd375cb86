/**
 * user-namespace.ts — the engine's side of a container with a user namespace (minibox-runc): the
 * launcher makes it, this process writes its uid and gid maps, and learns the container's pid.
 *
 * In a user namespace the container's root is an ordinary user of the host (uid 100000, say):
 * root over the container's own namespaces and the files it owns, nothing else. Every namespace
 * is owned by the user namespace of the process that made it, and the owner decides who may
 * administer it — so the user namespace comes first, and the PID, mount, network… namespaces are
 * made from inside it. Node cannot enter one (unshare/setns(CLONE_NEWUSER) need a single-threaded
 * process), so the C launcher does, before it execs the init stage (native/launch-userns.c):
 *   1. the engine starts minibox-launch with `--userns-sync FD` (a socket, the next fd after the
 *      stage's channel), `--userns-path PATH` to join config.json's namespace instead of making
 *      one, `--new-pid` when the container gets a new PID namespace (the engine does not make it:
 *      it would belong to the host's user namespace, and mounting proc inside would fail);
 *   2. the launcher unshares CLONE_NEWUSER and says "ready"; here, root outside, we write
 *      /proc/PID/uid_map and gid_map ("containerID hostID size" lines, checked by id-mappings.ts)
 *      and answer "mapped". /proc/PID/setgroups stays "allow": the maps are written with
 *      CAP_SETGID outside, so dropping groups inside cannot defeat a group-deny rule on the host
 *      (the "deny" switch exists for unprivileged map writers: CVE-2014-8989);
 *   3. the launcher becomes uid/gid 0 in it, makes the PID namespace and forks its PID 1, and
 *      says "pid N": the container's pid, the one state.json, kill and the hooks use.
 * The container's root is not the host's: a file the init stage must open that the engine made
 * (the exec fifo, 0622 before the umask) is given to it first, as runc chowns its fifo.
 * The init stage's unshare() of mount, UTS, IPC, network and cgroup then makes namespaces owned by
 * the container's user namespace, as the runtime spec asks.
 *
 * Try: `cp -a $BUNDLE b && mkdir -p b/rootfs/proc b/rootfs/dev b/rootfs/sys && chown -R 100000:100000
 * b/rootfs && chmod 711 . && jq '.linux.namespaces+=[{"type":"user"}] |
 * .linux.uidMappings=[{"containerID":0,"hostID":100000,"size":65536}] | .linux.gidMappings=.linux.uidMappings
 * | .process.args=["sh","-c","id -u; cat /proc/self/uid_map"]' $BUNDLE/config.json > b/config.json &&
 * minibox-runc run --bundle b c1` → `0 100000 65536` (root inside is host uid 100000; `chmod 711 .`:
 * it must reach its bundle, as with runc)
 */
import type { ChildProcess, StdioOptions } from 'node:child_process';
import type { Duplex } from 'node:stream';
import fs from 'node:fs';
import { MiniboxError } from '../errors.js';
import { publishStep } from '../sys/trace.js';
import type { RuntimeSpec, SpecIdMapping } from '../bundle/oci-bundle.js';
import { formatIdMap, hostIdOf, userNamespaceOf, type IdKind } from './id-mappings.js';

/** How to start the launcher for a container with a user namespace. */
export interface UserNamespacePlan {
  /** minibox-launch's options (launch-userns.h). */
  launcherArgs: string[];
  /** The stage's stdio with the sync socket appended. */
  stdio: StdioOptions;
  syncIndex: number;
}

/**
 * Step 1 for a spec with a `user` namespace (undefined without one). `newPidNamespace`: the spec
 * asks for a new PID namespace; `wait`: the launcher stays as the PID 1's parent (`run`).
 */
export function planUserNamespace(spec: RuntimeSpec, stdio: StdioOptions, options: { newPidNamespace: boolean; wait: boolean }): UserNamespacePlan | undefined {
  const entry = userNamespaceOf(spec);
  if (!entry) return undefined;
  if (!Array.isArray(stdio)) throw new Error('a user namespace needs the stage\'s stdio as an array');
  const syncIndex = stdio.length;
  return {
    syncIndex,
    stdio: [...stdio, 'pipe'],
    launcherArgs: ['--userns-sync', String(syncIndex), ...(entry.path ? ['--userns-path', entry.path] : []),
      ...(options.newPidNamespace ? ['--new-pid'] : []), ...(options.wait ? ['--wait'] : [])],
  };
}

/** The container's pid, and who its root is on the host (files it must open are given to it). */
export interface EstablishedUserNamespace { initPid: number; rootUid: number; rootGid: number }

/** Steps 2–3: maps written (or compared, for a joined namespace); resolves once the PID 1 exists. */
export async function establishUserNamespace(launcher: ChildProcess, spec: RuntimeSpec, plan: UserNamespacePlan): Promise<EstablishedUserNamespace> {
  const socket = launcher.stdio[plan.syncIndex] as unknown as Duplex; // a socketpair: Node makes one per 'pipe'
  const lines = lineReader(socket);
  try {
    expectLine(await lines.next(), 'ready');
    const pid = launcher.pid!;
    const path = userNamespaceOf(spec)?.path;
    if (path) compareMaps(spec, pid, path);
    else {
      writeIdMap(pid, 'uid', spec.linux?.uidMappings ?? []);
      writeIdMap(pid, 'gid', spec.linux?.gidMappings ?? []);
    }
    const rootUid = hostIdOf(readIdMap(pid, 'uid'), 0);
    const rootGid = hostIdOf(readIdMap(pid, 'gid'), 0);
    socket.write('mapped\n');
    const initPid = Number(expectLine(await lines.next(), 'pid').split(' ')[1]);
    publishStep('user-namespace', { launcher: pid, init: initPid, ...(path ? { joined: path } : {}) });
    return { initPid, rootUid: rootUid ?? OVERFLOW_ID, rootGid: rootGid ?? OVERFLOW_ID };
  } finally {
    lines.close();
  }
}

function expectLine(line: string | undefined, word: string): string {
  if (line?.startsWith(`${word}`)) return line;
  const reason = line?.startsWith('error ') ? line.slice(6) : `the launcher ended before "${word}"`;
  throw new MiniboxError(`cannot set up the container's user namespace: ${reason}`);
}

/** The launcher's lines on the sync socket, one at a time (undefined at end-of-file). */
function lineReader(stream: NodeJS.ReadableStream): { next: () => Promise<string | undefined>; close: () => void } {
  const lines: string[] = [];
  let ended = false;
  let wake = (): void => undefined;
  let text = '';
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    let newline;
    while ((newline = text.indexOf('\n')) >= 0) {
      lines.push(text.slice(0, newline));
      text = text.slice(newline + 1);
    }
    wake();
  };
  const onEnd = (): void => { ended = true; wake(); };
  stream.on('data', onData);
  stream.once('end', onEnd);
  stream.once('error', onEnd);
  return {
    next: async () => {
      while (lines.length === 0 && !ended) await new Promise<void>((resolve) => { wake = resolve; });
      return lines.shift();
    },
    close: () => {
      stream.off('data', onData);
      (stream as unknown as { destroy?: () => void }).destroy?.();
    },
  };
}

/** /proc/PID/{uid,gid}_map: written once, whole, by root outside (the kernel refuses a second write). */
function writeIdMap(pid: number, kind: IdKind, mappings: SpecIdMapping[]): void {
  const file = `/proc/${pid}/${kind}_map`;
  try {
    fs.writeFileSync(file, formatIdMap(mappings));
  } catch (error) {
    throw new MiniboxError(`cannot write ${file} (linux.${kind}Mappings): ${(error as Error).message}`);
  }
  publishStep(`${kind}_map`, { pid, map: formatIdMap(mappings).trim().split('\n') });
}

/** An id the map does not cover shows as this one (/proc/sys/kernel/overflowuid). */
const OVERFLOW_ID = 65534;

/** /proc/PID/{uid,gid}_map as ranges. */
function readIdMap(pid: number, kind: IdKind): SpecIdMapping[] {
  return fs.readFileSync(`/proc/${pid}/${kind}_map`, 'utf8').split('\n').filter((line) => line.trim()).map((line) => {
    const [containerID, hostID, size] = line.trim().split(/\s+/).map(Number) as [number, number, number];
    return { containerID, hostID, size };
  });
}

/** Joined by path: config.json's maps, if it gives any, must be the namespace's own. */
function compareMaps(spec: RuntimeSpec, pid: number, path: string): void {
  for (const kind of ['uid', 'gid'] as const) {
    const given = spec.linux?.[`${kind}Mappings`];
    if (!given || given.length === 0) continue;
    const actual = formatIdMap(readIdMap(pid, kind)).trim().split('\n').filter(Boolean).sort();
    const wanted = formatIdMap(given).trim().split('\n').sort();
    if (actual.join('\n') !== wanted.join('\n')) {
      throw new MiniboxError(`config.json linux.${kind}Mappings differ from the map of the user namespace ${path} `
        + `(${actual.join(', ') || 'none'}): drop them, or make them match`);
    }
  }
}
