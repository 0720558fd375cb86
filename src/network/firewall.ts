/**
 * firewall.ts — the iptables rules that let containers out (NAT) and the world in (published ports).
 *
 * Netfilter runs every packet through chains of rules at fixed points ("hooks"): PREROUTING (just
 * arrived), OUTPUT (made by a local process), FORWARD (routed through), POSTROUTING (about to
 * leave). The `nat` table rewrites addresses, the `filter` table accepts or drops. minibox never
 * edits the host's own rules: it keeps its rules in chains of its own, each entered from a
 * built-in chain by a single jump rule, created on first need and deleted when they are empty:
 *
 *   nat    POSTROUTING → MINIBOX-POSTROUTING
 *            -s 172.29.0.0/16 ! -o minibox0 -j MASQUERADE   egress: a container's private source
 *                 address is replaced by the host's address on the way out, and replies are
 *                 translated back by conntrack; without it the outside world could not answer.
 *            -s 127.0.0.0/8 -o minibox0 -j MASQUERADE       see "published ports from the host"
 *   nat    PREROUTING, OUTPUT (-m addrtype --dst-type LOCAL) → MINIBOX-DNAT
 *            -p tcp --dport 18081 -j DNAT --to-destination 172.29.0.2:8080
 *                 `-p 18081:8080`: a packet for one of the host's own addresses, port 18081, gets
 *                 the container's address as its destination. PREROUTING catches packets from
 *                 other machines, OUTPUT those made on the host itself.
 *   filter FORWARD → MINIBOX-FORWARD
 *            -i minibox0 -j ACCEPT, -o minibox0 -j ACCEPT   routed traffic to/from the bridge
 *   filter FORWARD → MINIBOX-ISOLATION-1 → MINIBOX-ISOLATION-2
 *            a packet from one minibox network to another is dropped: networks are isolated
 *
 * Published ports from the host itself (`curl 127.0.0.1:18081`): Docker's default is a userland
 * proxy (docker-proxy listening on the port). minibox uses the kernel path instead, which Docker
 * also supports (`userland-proxy: false`): the OUTPUT DNAT above rewrites 127.0.0.1:18081 to the
 * container, but a packet with source 127.0.0.1 may not leave through a real interface unless
 * `route_localnet=1` is set on it (bridge.ts sets it on minibox's own bridge only), and the
 * container could not answer 127.0.0.1 (that is its *own* loopback) — so the second MASQUERADE
 * rule gives such packets the bridge's address as source. Nothing has to keep running for a
 * detached container's ports to work, which is why no proxy process is needed.
 *
 * Every rule carries a comment naming the network or container, so `iptables-save | grep minibox`
 * shows exactly what minibox added.
 *
 * Try: `iptables -t nat -S MINIBOX-DNAT` while a container with `-p 8080:80` runs.
 */
import { iptables, netStep, runProgram, tryNetStep } from './command.js';

type Table = 'nat' | 'filter';

export interface FirewallRule {
  table: Table;
  chain: string;
  /** Match and target, as given to `iptables -A CHAIN …`. */
  spec: string[];
}

interface Jump { table: Table; builtin: string; spec: string[] }

/** minibox's chains and the single jump into each from the host's built-in chains. */
const CHAIN_JUMPS: Record<string, Jump[]> = {
  'MINIBOX-POSTROUTING': [{ table: 'nat', builtin: 'POSTROUTING', spec: ['-j', 'MINIBOX-POSTROUTING'] }],
  'MINIBOX-DNAT': [
    { table: 'nat', builtin: 'PREROUTING', spec: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'MINIBOX-DNAT'] },
    { table: 'nat', builtin: 'OUTPUT', spec: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'MINIBOX-DNAT'] },
  ],
  'MINIBOX-FORWARD': [{ table: 'filter', builtin: 'FORWARD', spec: ['-j', 'MINIBOX-FORWARD'] }],
  'MINIBOX-ISOLATION-1': [{ table: 'filter', builtin: 'FORWARD', spec: ['-j', 'MINIBOX-ISOLATION-1'] }],
  'MINIBOX-ISOLATION-2': [], // entered only from MINIBOX-ISOLATION-1
};

function comment(text: string): string[] {
  return ['-m', 'comment', '--comment', text];
}

/** NAT and forwarding for a whole network; present while its bridge exists. */
export function networkRules(network: { Name: string; Subnet: string; Bridge: string }): FirewallRule[] {
  const about = `minibox network ${network.Name}`;
  return [
    { table: 'nat', chain: 'MINIBOX-POSTROUTING', spec: ['-s', network.Subnet, '!', '-o', network.Bridge, ...comment(`${about}: egress NAT`), '-j', 'MASQUERADE'] },
    { table: 'nat', chain: 'MINIBOX-POSTROUTING', spec: ['-s', '127.0.0.0/8', '-o', network.Bridge, ...comment(`${about}: published ports from localhost`), '-j', 'MASQUERADE'] },
    { table: 'filter', chain: 'MINIBOX-FORWARD', spec: ['-i', network.Bridge, ...comment(`${about}: from containers`), '-j', 'ACCEPT'] },
    { table: 'filter', chain: 'MINIBOX-FORWARD', spec: ['-o', network.Bridge, ...comment(`${about}: to containers`), '-j', 'ACCEPT'] },
    // Isolation, in two stages as Docker does (one rule cannot say "in on A, out on another
    // minibox bridge"): stage 1 sends whatever leaves this bridge for elsewhere to stage 2, which
    // drops it if it is about to enter any minibox bridge. Listed after MINIBOX-FORWARD so that
    // its jump is inserted in front of it, and stage 2 before stage 1, which refers to it.
    { table: 'filter', chain: 'MINIBOX-ISOLATION-2', spec: ['-o', network.Bridge, ...comment(`${about}: isolation`), '-j', 'DROP'] },
    { table: 'filter', chain: 'MINIBOX-ISOLATION-1', spec: ['-i', network.Bridge, '!', '-o', network.Bridge, ...comment(`${about}: isolation`), '-j', 'MINIBOX-ISOLATION-2'] },
  ];
}

export interface PortRuleTarget {
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
  containerId: string;
}

/** The DNAT rule of one published port. */
export function portRule(port: PortRuleTarget): FirewallRule {
  return {
    table: 'nat', chain: 'MINIBOX-DNAT',
    spec: [
      '-p', port.protocol, ...(port.hostIp && port.hostIp !== '0.0.0.0' ? ['-d', port.hostIp] : []),
      '--dport', String(port.hostPort),
      ...comment(`minibox container ${port.containerId.slice(0, 12)}`),
      '-j', 'DNAT', '--to-destination', `${port.containerIp}:${port.containerPort}`,
    ],
  };
}

async function chainExists(table: Table, chain: string): Promise<boolean> {
  return (await runProgram(iptables(table, '-S', chain))).code === 0;
}

async function ensureChain(table: Table, chain: string): Promise<void> {
  if (!(await chainExists(table, chain))) {
    await netStep('net.iptables', iptables(table, '-N', chain), { table, chain, action: 'create chain' });
  }
  for (const jump of CHAIN_JUMPS[chain] ?? []) {
    if ((await runProgram(iptables(jump.table, '-C', jump.builtin, ...jump.spec))).code !== 0) {
      await netStep('net.iptables', iptables(jump.table, '-I', jump.builtin, '1', ...jump.spec),
        { table, chain: jump.builtin, action: 'jump', to: chain });
    }
  }
}

/** Removes a minibox chain and the jumps into it once it holds no rule anymore. */
async function removeChainIfEmpty(table: Table, chain: string): Promise<void> {
  const listing = await runProgram(iptables(table, '-S', chain));
  if (listing.code !== 0) return;
  const rules = listing.stdout.split('\n').filter((line) => line.startsWith('-A '));
  if (rules.length > 0) return;
  for (const jump of CHAIN_JUMPS[chain] ?? []) {
    while ((await runProgram(iptables(jump.table, '-C', jump.builtin, ...jump.spec))).code === 0) {
      if (!(await tryNetStep('net.iptables', iptables(jump.table, '-D', jump.builtin, ...jump.spec), { table, chain: jump.builtin, action: 'unjump', to: chain }))) break;
    }
  }
  await tryNetStep('net.iptables', iptables(table, '-X', chain), { table, chain, action: 'delete chain' });
}

function stepName(rule: FirewallRule): string {
  if (rule.chain === 'MINIBOX-DNAT') return 'net.dnat';
  if (rule.chain === 'MINIBOX-POSTROUTING') return 'net.nat';
  if (rule.chain.startsWith('MINIBOX-ISOLATION')) return 'net.isolation';
  return 'net.forward';
}

/** Adds the rule unless an identical one is there already (so retries and crashes are harmless). */
export async function addRule(rule: FirewallRule): Promise<void> {
  await ensureChain(rule.table, rule.chain);
  if ((await runProgram(iptables(rule.table, '-C', rule.chain, ...rule.spec))).code === 0) return;
  await netStep(stepName(rule), iptables(rule.table, '-A', rule.chain, ...rule.spec), { table: rule.table, chain: rule.chain, rule: rule.spec.join(' ') });
}

/** Deletes the rule if present, then the chain if that left it empty. */
export async function deleteRule(rule: FirewallRule): Promise<void> {
  while ((await runProgram(iptables(rule.table, '-C', rule.chain, ...rule.spec))).code === 0) {
    if (!(await tryNetStep(stepName(rule), iptables(rule.table, '-D', rule.chain, ...rule.spec), { table: rule.table, chain: rule.chain, rule: rule.spec.join(' '), action: 'delete' }))) break;
  }
  await removeChainIfEmpty(rule.table, rule.chain);
}

export interface ForwardedPort { protocol: string; hostIp: string; hostPort: number }

/** Host ports that already have a DNAT rule (from any minibox state root on this host). */
export async function forwardedPorts(): Promise<ForwardedPort[]> {
  const listing = await runProgram(iptables('nat', '-S', 'MINIBOX-DNAT'));
  if (listing.code !== 0) return [];
  const found: ForwardedPort[] = [];
  for (const line of listing.stdout.split('\n')) {
    const port = /--dport (\d+)/.exec(line)?.[1];
    if (!line.startsWith('-A ') || port === undefined) continue;
    const protocol = /-p (\w+)/.exec(line)?.[1] ?? 'tcp';
    const hostIp = /-d ([\d.]+)(?:\/32)?/.exec(line)?.[1] ?? '0.0.0.0';
    found.push({ protocol, hostIp, hostPort: Number(port) });
  }
  return found;
}
