/**
 * explain.ts — `--explain` sentences for the network steps (net.*) published by this directory.
 *
 * src/explain/narrate.ts turns kernel-call events into sentences; network steps are commands
 * rather than syscalls, so their sentences live beside the code that runs them. The narrator
 * calls `describeNetworkStep` for any event whose name starts with `net.`.
 *
 * Try: `minibox run --explain --rm busybox true 2>&1 | grep 'host loopback'` → `host loopback rule
 * in MINIBOX-INPUT`
 */
import type { SysEvent } from '../sys/trace.js';

function str(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Why a MINIBOX-FORWARD rule is there, from the rule's own words (firewall.ts networkRules). */
function forwardingPurpose(rule: string): string {
  if (rule.includes('-j DROP')) return 'nothing else is routed into the containers: their unpublished ports stay closed to other machines';
  if (rule.includes('--ctstate DNAT')) return 'connections redirected by a published port (DNAT) may enter';
  if (rule.includes('RELATED,ESTABLISHED')) return 'replies to connections the containers opened may come back in';
  if (rule.startsWith('-i ')) return 'packets from the containers may be routed out through the host';
  return 'routed traffic of the bridge';
}

export function describeNetworkStep(event: SysEvent): string | undefined {
  const a = event.args;
  const command = a.command ? ` (\`${str(a.command)}\`)` : '';
  switch (event.call) {
    case 'net.bridge':
      if (a.action === 'create') return `create bridge ${str(a.bridge)}: a virtual switch for network ${str(a.network)}${command}`;
      if (a.action === 'address') return `give ${str(a.bridge)} the gateway address ${str(a.address)}: the host joins the subnet and gets a route to it${command}`;
      if (a.action === 'delete') return `delete bridge ${str(a.bridge)}: its last container left${command}`;
      return undefined;
    case 'net.veth':
      if (a.action === 'create') return `create a veth pair ${str(a.hostEnd)} <-> ${str(a.peer)}: two interfaces joined like a cable${command}`;
      if (a.action === 'plug') return `plug ${str(a.hostEnd)} into bridge ${str(a.bridge)}${command}`;
      if (a.action === 'move') return `move ${str(a.peer)} into the container's network namespace (pid ${str(a.pid)}): the host no longer sees it${command}`;
      if (a.action === 'delete') return `delete veth ${str(a.hostEnd)}: the container's eth0 disappears with it${command}`;
      return undefined;
    case 'net.netns':
      if (a.action === 'rename') return `inside the container: the moved end becomes eth0${command}`;
      if (a.action === 'address') return `inside the container: eth0 gets its address from IPAM${command}`;
      if (a.action === 'route') return `inside the container: default route via the bridge, the container's way out${command}`;
      if (a.action === 'loopback') return `inside the container: lo up, so 127.0.0.1 works${command}`;
      if (a.action === 'ipv6 off') {
        return 'inside the container, while eth0 is still down: IPv6 off and router advertisements ignored — minibox networks are IPv4 only, '
          + `and a forged advertisement from another container could otherwise give this one an IPv6 route through the forger (CVE-2020-13401)${command}`;
      }
      return undefined;
    case 'net.nat':
      return a.action === 'delete' ? `remove NAT rule ${str(a.rule)}`
        : `NAT rule in ${str(a.chain)}: ${str(a.rule)} — containers' private source addresses are replaced by the host's on the way out, so replies can find their way back`;
    case 'net.dnat':
      return a.action === 'delete' ? `remove port rule ${str(a.rule)}`
        : `publish a port: ${str(a.rule)} — packets for this host port are redirected to the container`;
    case 'net.isolation':
      return a.action === 'delete' ? undefined : `isolation rule in ${str(a.chain)}: ${str(a.rule)} — packets between two minibox networks are dropped`;
    case 'net.input':
      return a.action === 'delete' ? undefined
        : `host loopback rule in ${str(a.chain)}: ${str(a.rule)} — packets from containers to the host's 127.0.0.0/8 are dropped, so services the host binds to localhost stay private (route_localnet on the bridge would otherwise let them in; CVE-2020-8558 class)`;
    case 'net.forward':
      return a.action === 'delete' ? undefined : `forwarding rule in ${str(a.chain)}: ${str(a.rule)} — ${forwardingPurpose(str(a.rule))}`;
    case 'net.iptables':
      if (a.action === 'create chain') return `create iptables chain ${str(a.chain)} (${str(a.table)}): minibox keeps its rules apart from the host's`;
      if (a.action === 'jump') return `jump from ${str(a.chain)} to ${str(a.to)}: the single rule minibox adds to a built-in chain`;
      return undefined;
    case 'net.sysctl': return `sysctl ${str(a.key)}=${str(a.value)}: ${str(a.why)}`;
    case 'net.hosts':
      // minibox answers names with hosts files, not a DNS server (Docker's 127.0.0.11): say so,
      // and how to look a name up, since `nslookup NAME` asks DNS and finds nothing.
      return `update ${str(a.file)}: containers on the network find each other by name through /etc/hosts `
        + '(no DNS server: `getent hosts NAME` or `ping NAME` resolve it, `nslookup NAME` does not; see docs/network.md)';
    default: return undefined;
  }
}
