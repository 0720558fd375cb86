/**
 * namespace-table.ts — config.json's `linux.namespaces` as unshare(2) flags.
 *
 * Each listed type gets a new, empty namespace; a type that is *not* listed is shared with the
 * host (no `network` entry = the host's network, like `docker run --network host`). The PID
 * namespace is special: unshare(CLONE_NEWPID) only affects the caller's future children, so the
 * engine asks for it before starting the init stage (run-bundle.ts), and the init stage
 * unshares the rest itself. The cgroup namespace waits too: the init stage unshares it only after
 * the engine has moved it into the container's cgroup, so the namespace is rooted there (runc's
 * order) and `cat /proc/self/cgroup` inside reads `0::/`.
 */
import { CLONE } from '../sys/namespaces.js';
import type { NamespaceType, RuntimeSpec } from '../bundle/oci-bundle.js';

const FLAG_OF: Partial<Record<NamespaceType, number>> = {
  mount: CLONE.NEWNS, uts: CLONE.NEWUTS, ipc: CLONE.NEWIPC, network: CLONE.NEWNET,
};

function types(spec: RuntimeSpec): Set<NamespaceType> {
  return new Set((spec.linux?.namespaces ?? []).map((ns) => ns.type));
}

/** The flags the init stage passes to unshare(2) before "go": every requested namespace except pid and cgroup. */
export function initStageUnshareFlags(spec: RuntimeSpec): number {
  let flags = 0;
  for (const type of types(spec)) flags |= FLAG_OF[type] ?? 0;
  return flags;
}

/** The cgroup namespace, unshared after "go" (once the init is in its own cgroup). */
export function wantsCgroupNamespace(spec: RuntimeSpec): boolean {
  return types(spec).has('cgroup');
}

export function wantsPidNamespace(spec: RuntimeSpec): boolean {
  return types(spec).has('pid');
}

export function wantsMountNamespace(spec: RuntimeSpec): boolean {
  return types(spec).has('mount');
}
