/**
 * namespaces.ts — config.json's `linux.namespaces` as unshare(2) flags.
 *
 * Each listed type gets a new, empty namespace; a type that is *not* listed is shared with the
 * host (no `network` entry = the host's network, like `docker run --network host`). The PID
 * namespace is special: unshare(CLONE_NEWPID) only affects the caller's future children, so the
 * engine asks for it before starting the init stage (run-container.ts), and the init stage
 * unshares the rest itself.
 */
import { CLONE } from '../sys/namespaces.js';
import type { NamespaceType, RuntimeSpec } from './spec.js';

const FLAG_OF: Partial<Record<NamespaceType, number>> = {
  mount: CLONE.NEWNS, uts: CLONE.NEWUTS, ipc: CLONE.NEWIPC, network: CLONE.NEWNET, cgroup: CLONE.NEWCGROUP,
};

function types(spec: RuntimeSpec): Set<NamespaceType> {
  return new Set((spec.linux?.namespaces ?? []).map((ns) => ns.type));
}

/** The flags the init stage passes to unshare(2): every requested namespace except pid. */
export function initStageUnshareFlags(spec: RuntimeSpec): number {
  let flags = 0;
  for (const type of types(spec)) flags |= FLAG_OF[type] ?? 0;
  return flags;
}

export function wantsPidNamespace(spec: RuntimeSpec): boolean {
  return types(spec).has('pid');
}

export function wantsMountNamespace(spec: RuntimeSpec): boolean {
  return types(spec).has('mount');
}
