/**
 * explain.ts — `--explain` sentences for the network steps (net.*) published by this directory.
 *
 * src/explain/narrate.ts turns kernel-call events into sentences; network steps are commands
 * rather than syscalls, so their sentences live beside the code that runs them. The narrator
 * calls `describeNetworkStep` for any event whose name starts with `net.`.
 *
 * Try: `minibox network prune -f && minibox run --explain=all --rm busybox true 2>&1 | grep 'host
 * loopback'` → `host loopback rule in MINIBOX-INPUT` (the prune first: a kept bridge's rules are
 * "already there", told in one sentence, not made again)
 */
import type { SysEvent } from '../sys/trace.js';
import type { StoryStep } from '../explain/story-line.js';

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
      if (a.action === 'delete') return `delete bridge ${str(a.bridge)}: no container is on it${command}`;
      if (a.action === 'already there') {
        return `bridge ${str(a.bridge)} already there: kept, with its NAT and firewall rules and ip_forward, since its first container`
          + `${a.since ? ` (${str(a.since)})` : ''}, as Docker keeps docker0 — nothing to make (its owner read from /sys/class/net/${str(a.bridge)}/ifalias)`;
      }
      if (a.action === 'keep') {
        return `keep bridge ${str(a.bridge)} and its rules for the next container, as Docker keeps docker0: `
          + '`minibox network prune` takes them down (and gives ip_forward back) when no container uses them';
      }
      if (a.action === 'orphan') return `delete bridge ${str(a.bridge)}: kept by a state root that no longer has that network`;
      return undefined;
    case 'net.veth':
      if (a.action === 'create' && a.netns) {
        return `create a veth pair ${str(a.hostEnd)} <-> ${str(a.peer)}: two interfaces joined like a cable, in one netlink message — `
          + `${str(a.hostEnd)} plugged into bridge ${str(a.bridge)} and up on the host, ${str(a.peer)} made straight inside the `
          + `container's network namespace (pid ${str(a.pid)}), where the host no longer sees it${command}`;
      }
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
      if (a.action === 'delete') return `remove NAT rule ${str(a.rule)}`;
      return str(a.rule).startsWith('-s 127.0.0.0/8')
        ? `NAT rule in ${str(a.chain)}: ${str(a.rule)} — a connection from the host's own 127.0.0.1 to a published port leaves `
          + 'with the bridge\'s address as its source instead, because the container would answer 127.0.0.1 to itself'
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
      if (a.action === 'already there') return `firewall rules of ${str(a.bridge)} already there: minibox's chains and their jumps were made by its first container and kept`;
      if (a.action === 'create chain') return `create iptables chain ${str(a.chain)} (${str(a.table)}): minibox keeps its rules apart from the host's`;
      if (a.action === 'jump') {
        return str(a.rule).includes('--dst-type LOCAL')
          ? `jump from ${str(a.chain)} to ${str(a.to)} with -m addrtype --dst-type LOCAL: only packets addressed to one of this host's own addresses are redirected; traffic merely routed through the host keeps its destination`
          : `jump from ${str(a.chain)} to ${str(a.to)}: the single rule minibox adds to a built-in chain`;
      }
      return undefined;
    case 'net.sysctl': return `sysctl ${str(a.key)}=${str(a.value)}: ${str(a.why)}`;
    case 'net.network':
      return a.action === 'forget' ? `network ${str(a.network)} forgotten: its record and its claim on ${str(a.subnet)} are gone`
        : `network ${str(a.network)} recorded: subnet ${str(a.subnet)}, gateway ${str(a.gateway)}, bridge ${str(a.bridge)} — the bridge device is made when its first container starts`;
    case 'net.ipam':
      return a.action === 'release' ? `address ${str(a.address)} returned to network ${str(a.network)}'s pool (IPAM)`
        : `address ${str(a.address)} taken from network ${str(a.network)}'s pool (IPAM)`;
    case 'net.hosts':
      // minibox answers names with hosts files, not a DNS server (Docker's 127.0.0.11): say so,
      // and how to look a name up, since `nslookup NAME` asks DNS and finds nothing.
      return `update ${str(a.file)}: containers on the network find each other by name through /etc/hosts `
        + '(no DNS server: `getent hosts NAME` or `ping NAME` resolve it, `nslookup NAME` does not; see docs/network.md)';
    default: return undefined;
  }
}

/** What a firewall rule is for, in a few words (the story's one firewall line gathers them). */
function rulePurpose(event: SysEvent): string | undefined {
  const rule = str(event.args.rule);
  switch (event.call) {
    case 'net.nat': return rule.startsWith('-s 127.0.0.0/8') ? 'nat:from 127.0.0.1 → the bridge\'s' : 'nat:out → the host\'s address';
    case 'net.forward':
      if (rule.includes('-j DROP')) return 'in:nothing else';
      return rule.includes('--ctstate DNAT') ? 'in:published ports' : rule.includes('RELATED,ESTABLISHED') ? 'in:replies' : 'out:';
    case 'net.isolation': return event.args.chain === 'MINIBOX-INPUT' ? 'closed:the host\'s 127/8' : 'closed:other networks';
    case 'net.input': return 'closed:the host\'s 127/8';
    default: return undefined;
  }
}

function gather(key: string, item: string, render: (items: string[]) => { words: string; call: string }): StoryStep {
  return { key, item, render };
}

const unique = (items: string[]): string[] => [...new Set(items.filter(Boolean))];

/** The firewall in two lines: what NAT translates, and what the filter lets in or keeps closed. */
function firewallStep(table: 'nat' | 'filter', item: string): StoryStep {
  return gather(`firewall:${table}`, item, (items) => {
    const of = (kind: string): string[] => unique(items.filter((i) => i.startsWith(`${kind}:`)).map((i) => i.slice(kind.length + 1)));
    if (table === 'nat') return { words: `NAT: ${of('nat').join('; ') || 'its chain'}`, call: `iptables -t nat ×${items.length}` };
    const parts = [of('in').length ? `in only ${of('in').filter((i) => i !== 'nothing else').join(', ')}` : '', of('closed').length ? `closed: ${of('closed').join(', ')}` : ''];
    return { words: `filter: ${parts.filter(Boolean).join('; ') || 'its chains'}`, call: `iptables ×${items.length}` };
  });
}

/** `lo` brought up by ioctl (sys/netdevice.ts): told on the veth line, or alone without one. */
export function loopbackStoryStep(): StoryStep {
  return vethStep('lo-ioctl');
}

/** The container's end of the network: a veth pair, its address (IPAM), IPv6 off. */
function vethStep(item: string): StoryStep {
  return gather('veth', item, (items) => {
    const address = items.find((i) => i.startsWith('address:'))?.slice(8);
    const extras = [items.includes('ipv6 off') ? 'IPv6 off' : '', items.includes('hosts') ? 'its name in /etc/hosts' : ''].filter(Boolean);
    if (!items.includes('create') && !items.includes('move')) {
      // No veth (--network none): the namespace's loopback is all it has.
      return {
        words: `lo up: 127.0.0.1 works inside, and there is no other interface${extras.map((e) => `, ${e}`).join('')}`,
        call: items.includes('lo-ioctl') ? 'ioctl(SIOCSIFFLAGS, IFF_UP)' : 'ip link set lo up',
      };
    }
    return {
      words: `veth pair: its eth0${address ? ` ${address}` : ''} on the bridge${extras.map((e) => `, ${e}`).join('')}`,
      call: `ip link, ip addr ×${items.filter((i) => i !== 'ipam' && i !== 'hosts' && i !== 'lo-ioctl').length}, /etc/hosts`,
    };
  });
}

/** The story's line for a network step (src/explain/story-steps.ts gathers lines by key). */
export function networkStoryStep(event: SysEvent): StoryStep | undefined {
  const a = event.args;
  if (event.call === 'net.network') {
    return gather(`network:${str(a.action)}`, '', () => (a.action === 'forget'
      ? { words: `network ${str(a.network)} forgotten: its record, its claim on ${str(a.subnet)}`, call: 'rm -r networks/…' }
      : { words: `network ${str(a.network)}: ${str(a.subnet)}, bridge ${str(a.bridge)} made at its first container's start`, call: 'networks/…/network.json' }));
  }
  if (a.action === 'already there') {
    return gather('bridge-kept', str(a.bridge ?? ''), (i) => ({
      words: `bridge ${unique(i)[0] ?? ''} already there: kept, with its NAT and firewall rules, since its first container (as docker0)`,
      call: 'read /sys/class/net/…/ifalias',
    }));
  }
  if (a.action === 'keep') return gather('bridge-keep', str(a.bridge), (i) => ({ words: `bridge ${i.join(', ')} kept for the next container: \`minibox network prune\` takes it down`, call: '—' }));
  if (a.action === 'orphan') return gather('bridge-orphan', str(a.bridge), (i) => ({ words: `bridge ${i.join(', ')} deleted: its state root is gone`, call: 'ip link del' }));
  const removing = a.action === 'delete' || a.action === 'unjump' || a.action === 'release' || a.action === 'delete chain';
  if (removing) {
    if (event.call === 'net.veth') return gather('veth-gone', str(a.hostEnd), (i) => ({ words: `veth ${i.join(', ')} deleted: its eth0 goes with it`, call: 'ip link del' }));
    if (event.call === 'net.bridge') return gather('bridge-gone', str(a.bridge), (i) => ({ words: `bridge ${i.join(', ')} deleted: no container is on it`, call: 'ip link del' }));
    if (event.call === 'net.ipam') return gather('ipam-gone', str(a.address), (i) => ({ words: `address ${i.join(', ')} back in the network's pool (IPAM)`, call: 'ipam' }));
    return gather('rules-gone', str(a.chain), (i) => ({ words: `${i.length} firewall rules removed, in ${unique(i).length} chains`, call: 'iptables -D' }));
  }
  switch (event.call) {
    case 'net.bridge': case 'net.sysctl':
      return gather('bridge', a.action === 'address' ? str(a.address) : event.call === 'net.sysctl' ? 'router' : '', (i) => ({
        words: `bridge${a.bridge ? ` ${str(a.bridge)}` : ''}${unique(i).filter((x) => x !== 'router').map((x) => ` (${x})`).join('')}: a virtual switch`
          + (i.includes('router') ? ', the host routes for it' : ''),
        call: 'ip link, ip addr, sysctl',
      }));
    case 'net.iptables':
      // The DNAT chain's jumps are made with the bridge's rules (kept-bridge.ts): told with them.
      return firewallStep(a.table === 'nat' ? 'nat' : 'filter', '');
    case 'net.nat': case 'net.forward': case 'net.isolation': case 'net.input':
      return firewallStep(event.call === 'net.nat' ? 'nat' : 'filter', rulePurpose(event) ?? '');
    case 'net.veth': case 'net.netns':
      return vethStep(a.action === 'address' ? `address:${/addr add (\S+)/.exec(str(a.command))?.[1] ?? ''}` : str(a.action));
    case 'net.ipam': return vethStep('ipam');
    case 'net.dnat': {
      const match = /--dport (\d+) .*--to-destination (\S+)/.exec(str(a.rule));
      return portStep(match ? `${match[1]} → ${match[2]}${str(a.rule).startsWith('-p udp') ? '/udp' : ''}` : str(a.rule));
    }
    case 'net.hosts': return vethStep('hosts');
    default: return undefined;
  }
}

/** Published ports: the DNAT rules, reached by jumps that send only locally addressed packets to them. */
function portStep(item: string): StoryStep {
  return gather('ports', item, (items) => ({
    words: `published: ${items.join(', ')}, if addressed to this host`,
    call: 'DNAT; -m addrtype --dst-type LOCAL',
  }));
}
