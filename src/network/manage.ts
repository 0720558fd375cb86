/**
 * manage.ts — `network create / ls / rm / inspect`: user networks as Docker shows them.
 *
 * A user network is only a record until its first container attaches (the bridge is made then,
 * attach.ts) and loses its bridge again when its last container leaves; `network rm` deletes the
 * record and refuses while containers are attached. The built-in `bridge`, `host` and `none`
 * cannot be removed; the default `bridge` network keeps its bridge between containers, until
 * `network prune` (kept-bridge.ts).
 *
 * Try: `minibox network create --subnet 172.30.9.0/24 n9 >/dev/null && minibox network inspect n9`
 * → `"Gateway": "172.30.9.1"`
 */
import { MiniboxError, NotFoundError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { networkEndpoints, removeNetworkPlumbingIfUnused } from './attach.js';
import { removeBridge } from './bridge.js';
import { deviceOwner, ownerTag } from './bridge-claims.js';
import { readKept, removeOrphanBridges } from './kept-bridge.js';
import { withHostNetworkLock } from './host-state.js';
import { readAllocations } from './ipam.js';
import {
  DEFAULT_NETWORK, SPECIAL_MODES, createNetwork, deleteNetworkRecord, ensureDefaultNetwork, findNetwork, listNetworks,
  type NetworkRecord,
} from './networks.js';

export async function createUserNetwork(root: StateRoot, name: string, options: { subnet?: string } = {}): Promise<NetworkRecord> {
  return await withHostNetworkLock(() => createNetwork(root, name, options));
}

/** Every network, the built-in default first written if needed; `host` and `none` are modes, not records. */
export async function listAllNetworks(root: StateRoot): Promise<NetworkRecord[]> {
  await withHostNetworkLock(() => ensureDefaultNetwork(root));
  return listNetworks(root);
}

export async function removeUserNetwork(root: StateRoot, nameOrId: string): Promise<NetworkRecord> {
  if ((SPECIAL_MODES as readonly string[]).includes(nameOrId) || nameOrId === DEFAULT_NETWORK) {
    throw new MiniboxError(`${nameOrId} is a pre-defined network and cannot be removed`);
  }
  return await withHostNetworkLock(async () => {
    const network = findNetwork(root, nameOrId);
    if (!network) throw new NotFoundError(`network ${nameOrId} not found`);
    const attached = Object.values(readAllocations(root, network.Name));
    if (attached.length > 0) {
      throw new MiniboxError(`network ${network.Name} has active endpoints (${attached.map((id) => id.slice(0, 12)).join(', ')}): remove those containers first`);
    }
    await removeBridge(root, network);
    deleteNetworkRecord(root, network.Name);
    return network;
  });
}

/**
 * `network prune` (and `system prune`): the user networks no container is on, as Docker's; and,
 * since minibox has no daemon whose exit would take docker0 down, the default network's kept
 * bridge, rules and DNAT chain when no container is on it (kept-bridge.ts) — then the last
 * minibox bridge gone gives ip_forward its saved value back. Kept bridges of deleted state roots
 * go too. Returns the user networks deleted; the default network's record stays.
 */
export async function pruneNetworks(root: StateRoot): Promise<string[]> {
  const removed: string[] = [];
  await withHostNetworkLock(async () => {
    for (const network of listNetworks(root)) {
      if (Object.keys(readAllocations(root, network.Name)).length > 0) continue;
      if (network.Name === DEFAULT_NETWORK) {
        if (readKept(root, network) || await deviceOwner(network.Bridge) === ownerTag(root, network)) {
          await removeNetworkPlumbingIfUnused(network, root, true);
        }
        continue;
      }
      await removeBridge(root, network);
      deleteNetworkRecord(root, network.Name);
      removed.push(network.Name);
    }
    await removeOrphanBridges();
  });
  return removed;
}

/** `network inspect`: the shape of Docker's, for the fields minibox has. */
export async function inspectNetwork(root: StateRoot, nameOrId: string): Promise<Record<string, unknown>> {
  const network = nameOrId === DEFAULT_NETWORK
    ? await withHostNetworkLock(() => ensureDefaultNetwork(root))
    : findNetwork(root, nameOrId);
  if (!network) throw new NotFoundError(`network ${nameOrId} not found`);
  const containers: Record<string, unknown> = {};
  for (const e of networkEndpoints(root, network.Name)) {
    containers[e.ContainerId] = {
      Name: e.Name, EndpointID: e.EndpointId, MacAddress: e.MacAddress,
      IPv4Address: `${e.IPAddress}/${e.PrefixLength}`, IPv6Address: '',
    };
  }
  return {
    Name: network.Name, Id: network.Id, Created: network.Created, Scope: 'local', Driver: network.Driver,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: network.Subnet, Gateway: network.Gateway }] },
    Internal: false, Attachable: false, Ingress: false,
    Containers: containers,
    Options: {
      'com.docker.network.bridge.name': network.Bridge,
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
    },
    Labels: {},
  };
}
