/**
 * bridge.ts — the virtual switch every container of a network plugs into.
 *
 * A Linux bridge is a software Ethernet switch: frames that arrive on one port (here: the host
 * ends of the containers' veth pairs) are forwarded to the port that has the destination MAC
 * address. Containers on one bridge therefore talk to each other directly, at layer 2. The bridge
 * is also an interface of the host: giving it the network's gateway address (172.29.0.1/16) makes
 * the host a member of the subnet, the kernel adds the route `172.29.0.0/16 dev minibox0`, and the
 * containers' default route points at it — that is how their packets reach the host and beyond.
 *
 *   ip link add minibox0 type bridge
 *   ip addr add 172.29.0.1/16 dev minibox0
 *   ip link set minibox0 alias 'minibox network … of /var/lib/minibox'   (who owns it)
 *   ip link set minibox0 up
 *   sysctl net.ipv4.conf.minibox0.route_localnet=1   (see firewall.ts: 127.0.0.1:PORT → container)
 *
 * A user network's bridge exists while at least one container is attached; the last one to leave
 * removes it (and with it the route). The default network's bridge is kept between containers,
 * as docker0 is, until `minibox network prune` (kept-bridge.ts).
 * Device names are host-wide: a bridge whose alias names another state root (or another network)
 * is never joined and never deleted (bridge-claims.ts).
 *
 * Try: `minibox run -d busybox sleep 60 >/dev/null && ip -br addr show $(minibox network inspect -f
 * '{{index .Options "com.docker.network.bridge.name"}}' bridge)` → `UP … 172.…0.1/16`
 */
import { MiniboxError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { parseSubnet } from './cidr.js';
import { BatchError, deleteLink, ip, ipBatch, runProgram } from './host-commands.js';
import { writeSysctl } from './host-state.js';
import { checkSubnetFree, type NetworkRecord } from './networks.js';
import { claimBridge, deviceOwner, ownedByOther, ownerTag } from './bridge-claims.js';


/**
 * Creates the network's bridge if it is missing; returns true when it was created here (the
 * caller removes it again if a later step fails). Call with the host lock held.
 */
export async function ensureBridge(root: StateRoot, network: NetworkRecord): Promise<boolean> {
  const owner = ownerTag(root, network);
  const found = await deviceOwner(network.Bridge);
  if (found !== undefined) {
    // Device names are host-wide, state roots are not: never share one bridge between two ledgers.
    if (found !== owner) {
      throw new MiniboxError(`bridge ${network.Bridge} already exists and does not belong to network ${network.Name} of ${root.dir}`
        + `${found ? ` (it is ${found})` : ''}: nothing was changed; remove the other network's containers, `
        + 'or set MINIBOX_BRIDGE_NAME and MINIBOX_BRIDGE_SUBNET to a free bridge and subnet');
    }
    return false;
  }
  const subnet = parseSubnet(network.Subnet);
  // Host routes may have changed since the network was created: check again before adding ours.
  await checkSubnetFree(root, subnet, network.Name, network.Bridge);
  const why = { bridge: network.Bridge, network: network.Name };
  const address = `${network.Gateway}/${subnet.prefix}`;
  try {
    await ipBatch([
      { step: 'net.bridge', words: ['link', 'add', network.Bridge, 'type', 'bridge'], args: { ...why, action: 'create' } },
      { step: 'net.bridge', words: ['addr', 'add', address, 'dev', network.Bridge], args: { ...why, action: 'address', address } },
      { step: 'net.bridge', words: ['link', 'set', network.Bridge, 'alias', owner], args: { ...why, action: 'label' } },
      { step: 'net.bridge', words: ['link', 'set', network.Bridge, 'up'], args: { ...why, action: 'up' } },
    ]);
    writeSysctl(`/proc/sys/net/ipv4/conf/${network.Bridge}/route_localnet`, '1',
      'let packets from 127.0.0.1 (published ports used from the host itself) leave through this bridge');
  } catch (error) {
    // Not when the bridge could not be created: a device of that name appeared meanwhile.
    if (!(error instanceof BatchError && error.done === 0)) await removeBridge(root, network);
    throw error;
  }
  claimBridge(root, network);
  return true;
}

/**
 * Deletes the bridge (its route and route_localnet setting go with it); missing is fine. A bridge
 * of the same name that this network of this root did not make is left alone: false.
 */
export async function removeBridge(root: StateRoot, network: NetworkRecord): Promise<boolean> {
  if (await ownedByOther(root, network)) return false;
  await deleteBridge(network);
  return true;
}

/** `ip link del` of the network's bridge, for callers that checked its owner already. */
export async function deleteBridge(network: NetworkRecord): Promise<void> {
  await deleteLink(network.Bridge, 'net.bridge', { bridge: network.Bridge, network: network.Name, action: 'delete' });
}
