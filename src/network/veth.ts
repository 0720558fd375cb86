/**
 * veth.ts — the virtual cable between a container and its network's bridge.
 *
 * A new network namespace has only `lo`, and no way out. A veth pair is two interfaces joined
 * like the ends of a cable: what goes into one comes out of the other. Each end can live in a
 * different namespace. minibox makes the pair on the host, plugs one end into the bridge, and
 * moves the other into the container's namespace (named by any process inside it, the PID):
 *
 *   ip link add veth1a2b3c4 up master minibox0 type veth \
 *           peer name eth0 address 02:42:ac:1d:00:02 netns 4242   # the host cannot see eth0
 *   nsenter --net=/proc/4242/ns/net sysctl -w net.ipv6.conf.{all,default}.disable_ipv6=1 \
 *                      net.ipv6.conf.{all,default,eth0}.accept_ra=0   # see below
 *   nsenter … ip addr add 172.29.0.2/16 dev eth0 && ip link set eth0 up && ip link set lo up
 *   nsenter … ip route add default via 172.29.0.1     # everything else goes to the bridge
 *
 * The end inside is made straight in the container's namespace (one RTM_NEWLINK message carries
 * both ends: IFLA_NET_NS_PID for the peer), so it can be called `eth0` at once: names are per
 * namespace, and every container wants its own `eth0`. Its MAC address is derived from its IP (02:42:ac:1d:00:02 for
 * 172.29.0.2), as Docker did before version 28 — easy to read, one glance tells the address.
 * Docker 28 gives each endpoint a random MAC instead and announces it with a gratuitous ARP, so
 * that a reused address does not meet a neighbour's stale ARP entry for an old container.
 * Deleting the host end deletes the pair; so does the namespace dying with its last process.
 *
 * IPv6 is switched off in the container's namespace while its end of the cable is still down
 * (`all.disable_ipv6` reaches every interface there, `accept_ra` has to be named per interface):
 * minibox networks are IPv4 only, and an interface with IPv6 on would listen to router
 * advertisements — any container on the bridge (root there has CAP_NET_RAW) could announce
 * itself as an IPv6 router and receive its neighbours' traffic, outside every IPv4 rule
 * (CVE-2020-13401, fixed in Docker the same way).
 *
 * Try: `minibox run -d busybox sleep 60 >/dev/null && ip -o link show type veth` → `master
 * minibox` (the host end, plugged into this state root's bridge)
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { parseIPv4 } from './cidr.js';
import { BatchError, deleteLink, ipBatch, type BatchLine, type Prelude } from './host-commands.js';

/** Host-side interface name for a container on a network (at most 15 characters, like all names). */
export function hostVethName(networkId: string, containerId: string): string {
  return `veth${createHash('sha256').update(`${networkId}:${containerId}`).digest('hex').slice(0, 7)}`;
}

export function macForAddress(address: string): string {
  const value = parseIPv4(address) ?? 0;
  const bytes = [24, 16, 8, 0].map((shift) => (Math.floor(value / 2 ** shift) % 256).toString(16).padStart(2, '0'));
  return ['02', '42', ...bytes].join(':');
}

export interface VethPlan {
  hostName: string;
  bridge: string;
  pid: number;
  address: string;
  prefix: number;
  gateway: string;
}

/**
 * Creates the pair, plugs it in and configures eth0 inside, in two processes. One netlink
 * message (one `ip link add`) makes both ends: the host end already on the bridge and up, the
 * other born inside the container's namespace (`peer … netns PID`) with its final name and MAC —
 * no move, no rename. Then one `nsenter` runs, inside, the IPv6 sysctls (while eth0 is still
 * down, see the header) and an `ip -batch` for its address, link, lo and route. On failure the
 * pair is deleted again (the caller undoes earlier steps).
 */
export async function connectVeth(plan: VethPlan): Promise<void> {
  const about = { pid: plan.pid, hostEnd: plan.hostName, bridge: plan.bridge };
  const inside = (action: string, ...words: string[]): BatchLine => ({ step: 'net.netns', words, args: { pid: plan.pid, action } });
  try {
    await ipBatch([{
      step: 'net.veth', args: { ...about, action: 'create', peer: 'eth0', netns: true },
      words: ['link', 'add', plan.hostName, 'up', 'master', plan.bridge, 'type', 'veth',
        'peer', 'name', 'eth0', 'address', macForAddress(plan.address), 'netns', String(plan.pid)],
    }]);
    await ipBatch([
      inside('address', 'addr', 'add', `${plan.address}/${plan.prefix}`, 'dev', 'eth0'),
      inside('up', 'link', 'set', 'eth0', 'up'),
      inside('loopback', 'link', 'set', 'lo', 'up'),
      inside('route', 'route', 'add', 'default', 'via', plan.gateway),
    ], plan.pid, ipv6Off(plan.pid));
  } catch (error) {
    const notCreated = error instanceof BatchError && error.hostSide && error.done === 0; // that name is someone else's
    if (!notCreated) await deleteVeth(plan.hostName);
    throw error;
  }
}

/** IPv6 off and router advertisements ignored in the namespace, eth0 included (see header). */
function ipv6Off(pid: number): Prelude | undefined {
  if (!fs.existsSync('/proc/sys/net/ipv6')) return undefined; // a kernel without IPv6 (ipv6.disable=1): nothing to switch off
  const settings = [
    'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1',
    'net.ipv6.conf.all.accept_ra=0', 'net.ipv6.conf.default.accept_ra=0', 'net.ipv6.conf.eth0.accept_ra=0',
  ];
  return { step: 'net.netns', argv: ['sysctl', '-q', '-w', ...settings], args: { pid, action: 'ipv6 off' } };
}

/** Deletes a pair by its host end (the container's eth0 disappears with it); missing is fine. */
export async function deleteVeth(hostName: string): Promise<void> {
  // Usually gone already (the container's namespace died, and the pair with it): a sysfs look
  // spares the `ip link del` process that would only say "Cannot find device".
  if (!fs.existsSync(`/sys/class/net/${hostName}`)) return;
  await deleteLink(hostName, 'net.veth', { hostEnd: hostName, action: 'delete' });
}
