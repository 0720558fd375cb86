/**
 * namespace-table.ts — the one table of Linux namespaces: config.json's name for each, the file
 * that holds it under /proc/PID/ns/, and its clone flag for unshare(2) and setns(2).
 *
 * config.json's `linux.namespaces` lists the types a container gets of its own; a type that is
 * *not* listed is shared with the host (no `network` entry = the host's network, like `docker run
 * --network host`). Not all start empty: a new mount namespace is a copy of the parent's mount
 * table, UTS copies the hostname, cgroup is rooted at the cgroup its creator is in; net and IPC
 * start empty. The PID namespace is special: unshare(CLONE_NEWPID) only affects the caller's
 * future children, so the engine asks for it before starting the init stage (run-bundle.ts), and
 * the init stage unshares the rest itself. A user namespace (minibox-runc only) comes before all
 * of them, made by a C helper, since it must own the others (user-namespace.ts). The cgroup namespace waits too: the init stage
 * unshares it only after the engine has moved it into the container's cgroup, so the namespace is
 * rooted there (runc's order) and `cat /proc/self/cgroup` inside reads `0::/`.
 * `minibox exec` *joins* them instead, with setns(2) on /proc/<container pid>/ns/<file>: the PID
 * namespace through the engine (exec-in-container.ts), the others in the exec stage, in
 * JOIN_ORDER — the mount namespace last, because it changes what every path means.
 *
 * Try: `minibox run --rm --network none busybox ip -o link | wc -l` → `1` (a new network namespace
 * has only `lo`).
 */
import { CLONE } from '../sys/namespaces.js';
import type { NamespaceType, RuntimeSpec } from '../bundle/oci-bundle.js';

interface NamespaceRow {
  /** The name under /proc/PID/ns/ (the kernel's, shorter than the spec's for two of them). */
  file: string;
  flag: number;
}

const NAMESPACES: Partial<Record<NamespaceType, NamespaceRow>> = {
  mount: { file: 'mnt', flag: CLONE.NEWNS },
  uts: { file: 'uts', flag: CLONE.NEWUTS },
  ipc: { file: 'ipc', flag: CLONE.NEWIPC },
  network: { file: 'net', flag: CLONE.NEWNET },
  cgroup: { file: 'cgroup', flag: CLONE.NEWCGROUP },
  pid: { file: 'pid', flag: CLONE.NEWPID },
  user: { file: 'user', flag: CLONE.NEWUSER },
};

/** Namespaces the exec stage joins itself, in order (the PID namespace is joined through the engine). */
export const JOIN_ORDER = ['ipc', 'uts', 'network', 'cgroup', 'mount'] as const satisfies readonly NamespaceType[];
export type JoinedNamespace = (typeof JOIN_ORDER)[number];

function row(type: NamespaceType): NamespaceRow {
  const found = NAMESPACES[type];
  if (!found) throw new Error(`minibox does not handle ${type} namespaces`);
  return found;
}

/** /proc/PID/ns/FILE of a namespace type. */
export function namespaceFile(pid: number | 'self', type: NamespaceType): string {
  return `/proc/${pid}/ns/${row(type).file}`;
}

/** Its CLONE_NEW* flag. */
export function cloneFlag(type: NamespaceType): number {
  return row(type).flag;
}

/** The types the container gets *new* namespaces of (an entry with a `path` joins one instead). */
function types(spec: RuntimeSpec): Set<NamespaceType> {
  return new Set((spec.linux?.namespaces ?? []).filter((ns) => !ns.path).map((ns) => ns.type));
}

/**
 * The existing namespaces config.json names by `path` (runc's "join"; a Kubernetes pod's
 * containers share its network namespace this way), in JOIN_ORDER — the PID namespace aside,
 * which the engine joins before it starts the init stage (run-bundle.ts).
 */
export function namespacesToJoin(spec: RuntimeSpec): { type: JoinedNamespace; path: string }[] {
  const byType = new Map((spec.linux?.namespaces ?? []).filter((ns) => ns.path).map((ns) => [ns.type, ns.path!]));
  return JOIN_ORDER.filter((type) => byType.has(type)).map((type) => ({ type, path: byType.get(type)! }));
}

/** The `path` of a PID namespace to join, if config.json names one. */
export function pidNamespacePath(spec: RuntimeSpec): string | undefined {
  return spec.linux?.namespaces?.find((ns) => ns.type === 'pid' && ns.path)?.path;
}

/**
 * The flags the init stage passes to unshare(2) before "go": every requested namespace except
 * pid, cgroup and user (made before the stage starts: user-namespace.ts).
 */
export function initStageUnshareFlags(spec: RuntimeSpec): number {
  let flags = 0;
  for (const type of types(spec)) if (type !== 'pid' && type !== 'cgroup' && type !== 'user') flags |= NAMESPACES[type]?.flag ?? 0;
  return flags;
}

/** The cgroup namespace, unshared after "go" (once the init is in its own cgroup). */
export function wantsCgroupNamespace(spec: RuntimeSpec): boolean {
  return types(spec).has('cgroup');
}

export function wantsPidNamespace(spec: RuntimeSpec): boolean {
  return types(spec).has('pid');
}

/** A mount namespace of its own — new, or joined by path: either way not the host's. */
export function wantsMountNamespace(spec: RuntimeSpec): boolean {
  return (spec.linux?.namespaces ?? []).some((ns) => ns.type === 'mount');
}
