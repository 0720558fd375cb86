/**
 * fsck-network.ts — checking what the host holds for this state root's networks against the
 * records: IPAM addresses and endpoint files, veth pairs, DNAT rules, bridges and their NAT rules.
 *
 * The kernel frees a container's network namespace (and the veth end inside it) when its last
 * process exits, but the host's side is minibox's to undo: an address in `allocations.json`, an
 * endpoint file, DNAT rules for published ports, a veth pair created by a `run` killed before it
 * moved one end into the container, a bridge left with no member. Anything of a container that
 * is not running is a leftover; `--repair` runs the same detach a stop runs (attach.ts).
 *
 * Only what this state root can prove is its own is touched: addresses and endpoints in its
 * ledgers, veths named after its containers (veth.ts hashes network id + container id), DNAT
 * rules for those containers, bridges whose alias names this root (bridge.ts). The default
 * network's kept bridge is not a leftover while its record (kept-bridge.ts) says so.
 *
 * Try: `minibox run -d --name fn -p 127.0.0.1:18089:80 busybox sleep 60 >/dev/null && kill -9
 * $(find $MINIBOX_ROOT/containers -name pids.json | xargs jq -r '.monitor.pid, .init.pid') &&
 * minibox system fsck`
 * → `the record says running but its process is gone … 1 DNAT rule(s) of a container that is not
 * running`
 */
import fs from 'node:fs';
import path from 'node:path';
import { ContainerStore, containerLockName } from '../container/container-store.js';
import { ifLockFree } from '../lock.js';
import { detachContainer, networkEndpoints, removeNetworkPlumbingIfUnused } from '../network/attach.js';
import { deviceOwner, ownerTag } from '../network/bridge-claims.js';
import { forgetKept, readKept } from '../network/kept-bridge.js';
import { ip, iptables, runProgram } from '../network/host-commands.js';
import { withHostNetworkLock } from '../network/host-state.js';
import { readAllocations } from '../network/ipam.js';
import { listNetworks, networkDir, networkRecordFile, networksDir, type NetworkRecord } from '../network/networks.js';
import { hostVethName } from '../network/veth.js';
import type { StateRoot } from '../state-root.js';
import type { Finding } from './finding.js';
import { reallyRunning } from './fsck-containers.js';

/** Names of the veth interfaces in the host's network namespace. */
async function hostVeths(): Promise<Set<string>> {
  const result = await runProgram(ip('-o', 'link', 'show', 'type', 'veth'));
  return new Set([...result.stdout.matchAll(/^\d+: ([^:@]+)[@:]/gm)].map((match) => match[1]!));
}

/** DNAT rules per container (short id), from the comment every such rule carries (firewall.ts). */
async function dnatRulesByContainer(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const listing = await runProgram(iptables('nat', '-S', 'MINIBOX-DNAT'));
  for (const match of listing.stdout.matchAll(/--comment "?minibox container ([0-9a-f]{12})"?/g)) counts.set(match[1]!, (counts.get(match[1]!) ?? 0) + 1);
  return counts;
}

/** Leftovers of containers that are gone or not running, one finding per container and network. */
async function checkMembers(root: StateRoot, network: NetworkRecord, veths: Set<string>, dnat: Map<string, number>): Promise<Finding[]> {
  const store = new ContainerStore(root);
  const allocations = readAllocations(root, network.Name);
  const endpoints = networkEndpoints(root, network.Name);
  const ids = new Set([...Object.values(allocations), ...endpoints.map((e) => e.ContainerId), ...store.list().map((r) => r.Id)]);
  const findings: Finding[] = [];
  for (const id of ids) {
    const busy = await ifLockFree(root.locks, containerLockName(id), async () => {
      if (store.get(id) && reallyRunning(store, id)) return undefined;
      const parts: string[] = [];
      const address = Object.entries(allocations).find(([, owner]) => owner === id)?.[0];
      if (address) parts.push(`address ${address}`);
      if (endpoints.some((e) => e.ContainerId === id)) parts.push('an endpoint record');
      const veth = hostVethName(network.Id, id);
      if (veths.has(veth)) parts.push(`veth ${veth}`);
      const rules = dnat.get(id.slice(0, 12)) ?? 0;
      if (rules > 0 && (address || endpoints.some((e) => e.ContainerId === id))) parts.push(`${rules} DNAT rule(s)`);
      if (parts.length === 0) return undefined;
      return {
        area: 'network', subject: `${network.Name}/${id.slice(0, 12)}`,
        problem: `${parts.join(', ')} of a container that ${store.get(id) ? 'is not running' : 'no longer exists'}`,
        repair: 'detach it from the network (as a stop does)', fix: async () => detachContainer(root, id),
      } satisfies Finding;
    });
    if (!busy.busy && busy.value) findings.push(busy.value);
  }
  return findings;
}

/**
 * A bridge of this root's network with no container on it: what the last detach should have
 * removed — unless it is the default network's kept bridge (kept-bridge.ts), recorded complete.
 * A kept record whose bridge is gone (a reboot, `ip link del`) is stale: the next container
 * makes the plumbing again either way, the record is just deleted.
 */
async function checkPlumbing(root: StateRoot, network: NetworkRecord): Promise<Finding[]> {
  if (Object.keys(readAllocations(root, network.Name)).length > 0) return [];
  const owner = await deviceOwner(network.Bridge);
  const kept = readKept(root, network);
  if (kept && owner !== ownerTag(root, network)) {
    return [{
      area: 'network', subject: network.Bridge, problem: `network ${network.Name}'s record of a kept bridge that is not there (since ${kept.Since})`,
      repair: 'delete the record (the next container makes the bridge again)',
      fix: async () => withHostNetworkLock(async () => forgetKept(root, network)),
    }];
  }
  if (kept || owner === undefined || !owner.endsWith(` of ${root.dir}`)) return [];
  const members = await runProgram(ip('-o', 'link', 'show', 'master', network.Bridge));
  if (members.stdout.trim() !== '') return [];
  return [{
    area: 'network', subject: network.Bridge, problem: `the bridge of network ${network.Name}, which has no container on it`,
    repair: 'remove the bridge and its NAT and forwarding rules',
    fix: async () => { await withHostNetworkLock(() => removeNetworkPlumbingIfUnused(network, root, true)); },
  }];
}

/** Network directories without a record (a `network create` cut short) and record writes cut short. */
async function checkNetworkFiles(root: StateRoot): Promise<Finding[]> {
  const dir = networksDir(root);
  if (!fs.existsSync(dir)) return [];
  const check = async (): Promise<Finding[]> => {
    const findings: Finding[] = [];
    for (const name of fs.readdirSync(dir)) {
      const base = networkDir(root, name);
      if (!fs.existsSync(networkRecordFile(root, name))) {
        findings.push({ area: 'network', subject: base, problem: 'a network directory without a record (a `network create` cut short)', repair: 'delete it', fix: async () => fs.rmSync(base, { recursive: true, force: true }) });
        continue;
      }
      const endpoints = path.join(base, 'endpoints');
      const files = [...fs.readdirSync(base).map((f) => path.join(base, f)), ...(fs.existsSync(endpoints) ? fs.readdirSync(endpoints).map((f) => path.join(endpoints, f)) : [])];
      for (const file of files.filter((f) => f.endsWith('.tmp'))) {
        findings.push({ area: 'temp', subject: file, problem: 'a record write that never reached its rename', repair: 'delete it', fix: async () => fs.rmSync(file, { force: true }) });
      }
    }
    return findings;
  };
  // Network records and endpoints are written under the host network lock (ledgers under their
  // network's lock, taken inside it): while we hold it, nobody is half-way through a write. It is
  // host-wide and held only for moments, so wait for it rather than skip the check.
  return await withHostNetworkLock(async () => {
    const names = fs.readdirSync(dir);
    const ledgersFree = await Promise.all(names.map(async (name) => !(await ifLockFree(root.locks, `network-${name}`, async () => true)).busy));
    return ledgersFree.every(Boolean) ? await check() : [];
  });
}

export async function checkNetworks(root: StateRoot): Promise<Finding[]> {
  const networks = listNetworks(root);
  const files = await checkNetworkFiles(root);
  if (networks.length === 0) return files;
  const veths = await hostVeths();
  const dnat = await dnatRulesByContainer();
  const findings: Finding[] = [...files];
  for (const network of networks) findings.push(...await checkMembers(root, network, veths, dnat));
  if (findings.some((f) => f.area === 'network' && f.subject.includes('/'))) return findings; // detaching removes idle bridges too
  for (const network of networks) findings.push(...await checkPlumbing(root, network));
  return findings;
}
