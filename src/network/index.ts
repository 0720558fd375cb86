/**
 * network — Docker's default networking model for minibox: bridges, veth pairs, IPAM, NAT,
 * published ports and name resolution. Reading order: cidr → networks → ipam → bridge → veth →
 * firewall → ports → hosts → attach (the story of plugging a container in) → manage → doctor.
 * Host-wide state and ip_forward: host-state.ts; how commands are run: host-commands.ts.
 *
 * Try: `minibox run --rm busybox ip -4 -o addr show eth0` → `inet 172.`
 */
export { attachContainer, detachContainer, containerEndpoints, containerPorts, networkEndpoints, type AttachRequest, type Endpoint } from './attach.js';
export { parsePublish, publishAllExposed, formatPorts, type PortSpec, type PublishedPort } from './ports.js';
export { addHostLines, parseAddHost, resolvConfWithDns } from './hosts.js';
export { createUserNetwork, removeUserNetwork, listAllNetworks, inspectNetwork, pruneNetworks } from './manage.js';
export { DEFAULT_NETWORK, DEFAULT_BRIDGE_DEVICE, DEFAULT_BRIDGE_SUBNET, findNetwork, type NetworkRecord } from './networks.js';
export { checkNetworking, type NetworkCheck } from './doctor.js';
export { lostNetworks, type LostNetwork } from './endpoint-health.js';
export { describeNetworkStep } from './explain.js';
