/**
 * endpoint-health.ts — is a running container still plugged into its network?
 *
 * A container's network is a chain of kernel objects that live *outside* its process: the host
 * end of its veth pair, plugged (`master`) into its network's bridge, which carries the gateway
 * address and the route. The process keeps running when a link of that chain is cut — someone
 * runs `ip link del minibox0`, or (before bridge-claims.ts) a second state root deleted the
 * first one's bridge — and `ps` would go on showing it "Up" with its ports while nothing can
 * reach it. So `ps` and `doctor` check the chain with one `ip -j link show`:
 *
 *   bridge exists? → made by this root for this network (its alias)? → host veth exists?
 *   → veth's master is the bridge?
 *
 * A container found cut off gets "(network lost)" after its STATUS in `ps`, and a warning in
 * `doctor`; `minibox restart NAME` plugs it in again.
 *
 * Try: `minibox run -d --name ww busybox sleep 60 >/dev/null; ip link set $(jq -r .HostVeth
 * $MINIBOX_ROOT/networks/bridge/endpoints/*.json) nomaster; minibox ps --format '{{.Names}}
 * {{.Status}}'` → `ww Up … (network lost)`
 */
import type { StateRoot } from '../state-root.js';
import { containerEndpoints, type Endpoint } from './attach.js';
import { ownerTag } from './bridge-claims.js';
import { ip, runProgram } from './host-commands.js';
import { readNetwork } from './networks.js';

export interface LostNetwork {
  containerId: string;
  network: string;
  /** What is broken, in a few words ("bridge minibox0 is gone"). */
  reason: string;
}

interface Link { ifname: string; master?: string; ifalias?: string }

async function hostLinks(): Promise<Map<string, Link>> {
  const result = await runProgram(ip('-j', 'link', 'show'));
  const links = result.code === 0 ? JSON.parse(result.stdout || '[]') as Link[] : [];
  return new Map(links.map((link) => [link.ifname, link]));
}

function brokenLink(root: StateRoot, endpoint: Endpoint, links: Map<string, Link>): string | undefined {
  const network = readNetwork(root, endpoint.Network);
  if (!network) return `network ${endpoint.Network} no longer exists`;
  const bridge = links.get(network.Bridge);
  if (!bridge) return `bridge ${network.Bridge} is gone`;
  if ((bridge.ifalias ?? '') !== ownerTag(root, network)) return `bridge ${network.Bridge} now belongs to ${bridge.ifalias || 'another program'}`;
  const veth = links.get(endpoint.HostVeth);
  if (!veth) return `its veth ${endpoint.HostVeth} is gone`;
  if (veth.master !== network.Bridge) return `its veth ${endpoint.HostVeth} is not plugged into ${network.Bridge}`;
  return undefined;
}

/**
 * The containers among `runningIds` (running, per the kernel) whose network is gone. Costs one
 * `ip` process, and none when no running container has an endpoint.
 */
export async function lostNetworks(root: StateRoot, runningIds: string[]): Promise<LostNetwork[]> {
  const endpoints = runningIds.flatMap((id) => containerEndpoints(root, id));
  if (endpoints.length === 0) return [];
  const links = await hostLinks();
  return endpoints.flatMap((endpoint) => {
    const reason = brokenLink(root, endpoint, links);
    return reason === undefined ? [] : [{ containerId: endpoint.ContainerId, network: endpoint.Network, reason }];
  });
}
