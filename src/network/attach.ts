/**
 * attach.ts — plugging a container into a network, and unplugging it, in the kernel's order.
 *
 * The runtime creates the container's network namespace (unshare CLONE_NEWNET) and waits; the
 * engine then calls `attachContainer` with the PID of a process inside it:
 *
 *   1. IPAM gives the container the lowest free address of the network       (ipam.ts)
 *   2. the network's bridge, NAT and forwarding rules exist (made by the first container, then
 *      kept on the default network: "already there"), and ip_forward is on   (kept-bridge.ts)
 *   3. published host ports are checked and chosen                            (ports.ts)
 *   4. a veth pair: one end on the bridge, the other moved in and named eth0   (veth.ts)
 *   5. one DNAT rule per published port, all in one iptables-restore          (firewall.ts)
 *   6. the endpoint record, and the hosts files of the network's members     (hosts.ts)
 * If any step fails, the steps already done are undone in reverse order, so a failed `run`
 * (a taken port, a full subnet) leaves no veth, rule or address behind, nor a half-made bridge.
 *
 * `detachContainer` undoes the container's part; the last container to leave a user network also
 * removes its bridge and rules, while the default network keeps them for the next container
 * until `network prune` (kept-bridge.ts). The last minibox bridge on the host gives back ip_forward.
 * The whole of both runs under the host-wide network lock (host-state.ts).
 *
 * Try: `minibox run --explain=all --rm busybox true 2>&1 | grep veth` → `create a veth pair`
 */
import { crashPoint } from '../crash-point.js';
import fs from 'node:fs';
import path from 'node:path';
import { isBelow, type StateRoot } from '../state-root.js';
import { parseSubnet } from './cidr.js';
import { deleteBridge, ensureBridge } from './bridge.js';
import { ownedByOther } from './bridge-claims.js';
import {
  addPortRules, addRules, containerDnatRules, deletePortRules, deleteRules, networkRules, portRule, readRulesets, retiredNetworkRules,
  type FirewallRule,
} from './firewall.js';
import { enableForwarding, restoreForwardingIfUnused, withHostNetworkLock } from './host-state.js';
import { forgetKept, keepsPlumbing, narrateAlreadyThere, plumbingAlreadyThere, readKept, recordKept, removeOrphanBridges } from './kept-bridge.js';
import { publishStep } from '../sys/trace.js';
import { renderHostsFile, rewriteInPlace, type HostsMember } from './hosts.js';
import { allocateAddress, readAllocations, releaseAddress } from './ipam.js';
import { DEFAULT_NETWORK, listNetworks, networkDir, resolveNetwork, type NetworkRecord } from './networks.js';
import { resolveHostPorts, type PortSpec, type PublishedPort } from './ports.js';
import { connectVeth, deleteVeth, hostVethName, macForAddress } from './veth.js';

export interface AttachRequest {
  /** Full container id. */
  id: string;
  /** Container name; other containers on a user network reach it by this name. */
  name: string;
  /** Any process inside the container's network namespace (the init stage's PID). */
  pid: number;
  /** `bridge` (default), a user network, `none` (only lo) or `host` (nothing to do). */
  network?: string;
  /** Parsed `-p`/`-P` values (ports.ts). */
  ports?: PortSpec[];
  /** The container's hostname, when it differs from its short id. */
  hostname?: string;
  /** The hosts file the engine bind-mounts; default `<root>/containers/<id>/hosts`. */
  hostsFile?: string;
}

/** One container on one network: `<root>/networks/<name>/endpoints/<id>.json`. */
export interface Endpoint {
  ContainerId: string;
  Name: string;
  Network: string;
  NetworkId: string;
  EndpointId: string;
  IPAddress: string;
  PrefixLength: number;
  Gateway: string;
  MacAddress: string;
  HostVeth: string;
  Ports: PublishedPort[];
  Hostname?: string;
  HostsFile: string;
  /** The DNAT rules added for Ports, exactly as added (so that they can be deleted exactly). */
  Rules: FirewallRule[];
}

function endpointFile(root: StateRoot, network: string, id: string): string {
  return path.join(networkDir(root, network), 'endpoints', `${id}.json`);
}

/** The containers attached to a network. */
export function networkEndpoints(root: StateRoot, network: string): Endpoint[] {
  const dir = path.join(networkDir(root, network), 'endpoints');
  let files: string[] = [];
  try { files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')); } catch { /* none */ }
  return files.map((file) => {
    try { return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Endpoint; } catch { return undefined; }
  }).filter((e): e is Endpoint => e !== undefined).sort((a, b) => a.Name.localeCompare(b.Name));
}

/** The networks a container is attached to (none for `--network none|host`). */
export function containerEndpoints(root: StateRoot, id: string): Endpoint[] {
  return listNetworks(root).flatMap((network) => networkEndpoints(root, network.Name).filter((e) => e.ContainerId === id));
}

/** Published ports of a container, for `minibox port` and the PORTS column of `ps`. */
export function containerPorts(root: StateRoot, id: string): PublishedPort[] {
  return containerEndpoints(root, id).flatMap((e) => e.Ports);
}

/**
 * Connects the container's network namespace to its network. Returns its endpoint, or undefined
 * for `none` and `host`. Throws a one-line MiniboxError (exit 125) with nothing left half-made.
 */
export async function attachContainer(root: StateRoot, request: AttachRequest): Promise<Endpoint | undefined> {
  const mode = request.network ?? DEFAULT_NETWORK;
  // `none`: the namespace keeps only lo, which the init stage switched on itself right after its
  // unshare (sys/netdevice.ts) — no process to start here. `host`: no namespace of its own.
  if (mode === 'host' || mode === 'none') return undefined;
  return await withHostNetworkLock(async () => {
    const network = await resolveNetwork(root, mode);
    // A container started again (its old namespace, and with it the old veth, is gone): drop
    // what is left of its previous attachment (DNAT rules, address) before making a new one.
    if (containerEndpoints(root, request.id).length > 0) await detachLocked(root, request.id);
    const undo: (() => Promise<void>)[] = [];
    try {
      const address = await allocateAddress(root, network, request.id);
      crashPoint('net:address');
      undo.push(async () => {
        await releaseAddress(root, network.Name, request.id);
        await removeNetworkPlumbingIfUnused(network, root);
      });

      await preparePlumbing(root, network);

      const ports = await resolveHostPorts(request.ports ?? []);
      const subnet = parseSubnet(network.Subnet);
      const hostVeth = hostVethName(network.Id, request.id);
      await connectVeth({ hostName: hostVeth, bridge: network.Bridge, pid: request.pid, address, prefix: subnet.prefix, gateway: network.Gateway });
      undo.push(() => deleteVeth(hostVeth));
      crashPoint('net:veth');

      const rules = ports.map((port) => portRule({ ...port, containerIp: address, containerId: request.id }));
      await addPortRules(rules);
      undo.push(async () => deletePortRules(rules, true));

      const endpoint: Endpoint = {
        ContainerId: request.id, Name: request.name, Network: network.Name, NetworkId: network.Id,
        EndpointId: hostVeth, IPAddress: address, PrefixLength: subnet.prefix, Gateway: network.Gateway,
        MacAddress: macForAddress(address), HostVeth: hostVeth, Ports: ports,
        ...(request.hostname ? { Hostname: request.hostname } : {}),
        HostsFile: request.hostsFile ?? path.join(root.containers, request.id, 'hosts'),
        Rules: rules,
      };
      const file = endpointFile(root, network.Name, request.id);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(endpoint, null, 2)}\n`);
      fs.renameSync(`${file}.tmp`, file);
      undo.push(async () => { fs.rmSync(file, { force: true }); });

      refreshHostsFiles(root, network);
      return endpoint;
    } catch (error) {
      for (const step of undo.reverse()) {
        try { await step(); } catch { /* best effort: report the original failure */ }
      }
      if (undo.length > 0) refreshHostsFiles(root, network);
      throw error;
    }
  });
}

/**
 * Disconnects a container from every network it is on: its DNAT rules, veth pair, address and
 * hosts entries; and a network's bridge and rules when it was the last member. Safe to call
 * twice, or for a container that never had a network. Call it when the container stops (its
 * published ports must not keep pointing at nothing) and on rm.
 */
export async function detachContainer(root: StateRoot, id: string): Promise<void> {
  await withHostNetworkLock(() => detachLocked(root, id));
}

async function detachLocked(root: StateRoot, id: string): Promise<void> {
  for (const network of listNetworks(root)) {
    const file = endpointFile(root, network.Name, id);
    let endpoint: Endpoint | undefined;
    try { endpoint = JSON.parse(fs.readFileSync(file, 'utf8')) as Endpoint; } catch { /* not on this network */ }
    const hasAddress = Object.values(readAllocations(root, network.Name)).includes(id);
    if (!endpoint && !hasAddress) continue;
    if (endpoint) {
      // MINIBOX-DNAT stays while a bridge does (an empty chain costs nothing; making it again, two jumps).
      await deletePortRules(endpoint.Rules, true);
      fs.rmSync(file, { force: true });
    } else {
      // A `run` killed after adding its DNAT rules but before writing the endpoint: find them by
      // the comment each one carries.
      await deletePortRules(await containerDnatRules(id), true);
    }
    // Usually gone already (it died with the container's namespace), but a `run` killed between
    // creating the pair and moving one end into the container leaves both ends on the host. Only
    // a name minibox derives itself, never a record's word for which host interface to delete.
    await deleteVeth(hostVethName(network.Id, id));
    await releaseAddress(root, network.Name, id);
    refreshHostsFiles(root, network);
    await removeNetworkPlumbingIfUnused(network, root);
  }
}

/** `rename`: the container's endpoints carry its new name, and every member's hosts file with them. */
export async function renameEndpoints(root: StateRoot, id: string, name: string): Promise<void> {
  await withHostNetworkLock(async () => {
    for (const network of listNetworks(root)) {
      const file = endpointFile(root, network.Name, id);
      let endpoint: Endpoint;
      try { endpoint = JSON.parse(fs.readFileSync(file, 'utf8')) as Endpoint; } catch { continue; /* not on this network */ }
      fs.writeFileSync(`${file}.tmp`, `${JSON.stringify({ ...endpoint, Name: name }, null, 2)}\n`);
      fs.renameSync(`${file}.tmp`, file);
      refreshHostsFiles(root, network);
    }
  });
}

/**
 * The network's bridge, its rules and ip_forward, before a veth can be plugged in. The default
 * network's are usually there already (kept-bridge.ts): then nothing is run but one sysfs read.
 * Otherwise every missing piece is made, and for the default network recorded as kept.
 */
async function preparePlumbing(root: StateRoot, network: NetworkRecord): Promise<void> {
  if (plumbingAlreadyThere(root, network)) {
    narrateAlreadyThere(root, network);
    enableForwarding(); // one file read while it is on; on again if someone switched it off
    return;
  }
  // Kept bridges of deleted state roots first: they may hold a subnet or rules in the way.
  await removeOrphanBridges();
  // Reading the firewall tables (two `iptables-save`) does not depend on the bridge: start it
  // now, so those processes run while `ip` makes the bridge. The tables cannot change under
  // us meanwhile: minibox changes them only with the host lock, which we hold.
  const rulesets = readRulesets();
  rulesets.catch(() => { /* awaited below; a failure is reported there */ });
  await ensureBridge(root, network);
  enableForwarding();
  const keep = keepsPlumbing(network);
  await addRules(networkRules(network), retiredNetworkRules(network), await rulesets, keep ? [DNAT_CHAIN] : []);
  crashPoint('net:plumbing'); // made, not yet recorded: the next container (or fsck) finds it unrecorded
  if (keep) recordKept(root, network);
}

const DNAT_CHAIN = { table: 'nat', chain: 'MINIBOX-DNAT' } as const;

/**
 * Bridge and network rules go when no container holds an address on the network — except the
 * default network's kept plumbing, which only `prune` (network or system) takes down. Returns
 * true when it was taken down (or was not there).
 */
export async function removeNetworkPlumbingIfUnused(network: NetworkRecord, root: StateRoot, prune = false): Promise<boolean> {
  if (Object.keys(readAllocations(root, network.Name)).length > 0) return false;
  if (!prune && keepsPlumbing(network) && readKept(root, network)) {
    publishStep('net.bridge', { bridge: network.Bridge, network: network.Name, action: 'keep' });
    return false;
  }
  // The firewall tables are read (two `iptables-save`) while we look at the bridge's owner.
  const rulesets = readRulesets();
  rulesets.catch(() => { /* awaited below; a failure is reported there */ });
  // A bridge of that name made by another state root (this root's set-up failed on it): not ours
  // to take down, nor are the rules that name it.
  if (await ownedByOther(root, network)) {
    forgetKept(root, network);
    return false;
  }
  // Reverse order: a chain that another rule still jumps to cannot be deleted. MINIBOX-DNAT is
  // shared by every bridge, but goes too if it is empty: another kept bridge's next published
  // port makes it again (addPortRules), and no prune leaves an empty chain behind.
  await deleteRules([...retiredNetworkRules(network), ...networkRules(network).reverse()], await rulesets, [DNAT_CHAIN]);
  await deleteBridge(network);
  forgetKept(root, network);
  await restoreForwardingIfUnused();
  return true;
}

/**
 * Gives every member of the network an up-to-date hosts file: its own address for its hostname,
 * and on user networks one line per member (name, short id, hostname).
 */
export function refreshHostsFiles(root: StateRoot, network: NetworkRecord): void {
  const endpoints = networkEndpoints(root, network.Name);
  const members: HostsMember[] = network.Name === DEFAULT_NETWORK ? [] : endpoints.map((e) => ({
    ip: e.IPAddress,
    names: [...new Set([e.Name, e.ContainerId.slice(0, 12), ...(e.Hostname ? [e.Hostname] : [])])],
  }));
  for (const endpoint of endpoints) {
    // The engine's own file of a container, never a path a record could aim elsewhere.
    if (!isBelow(root.containers, endpoint.HostsFile)) continue;
    rewriteInPlace(endpoint.HostsFile, (current) => renderHostsFile(current,
      { ip: endpoint.IPAddress, ...(endpoint.Hostname ? { hostname: endpoint.Hostname } : {}) }, network.Name, members));
  }
}
