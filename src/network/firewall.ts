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
 *            -i minibox0 -j ACCEPT                          containers may send anywhere
 *            -o minibox0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT   replies to them
 *            -o minibox0 -m conntrack --ctstate DNAT -j ACCEPT    connections to published ports
 *            -o minibox0 -j DROP                            nothing else is routed into the bridge
 *                 Once ip_forward is on, the host is a router: a machine on the LAN that routes
 *                 172.29.0.0/16 to the host would otherwise reach *every* port of every container,
 *                 published or not. conntrack remembers which connections a container opened
 *                 (ESTABLISHED) and which were redirected by a DNAT rule (ctstate DNAT), so only
 *                 those get in — what Docker's DOCKER chain achieves with one ACCEPT per port.
 *                 (Even a published container port is refused when addressed directly at the
 *                 container's address: only the host port leads to it.)
 *   filter FORWARD → MINIBOX-ISOLATION-1 → MINIBOX-ISOLATION-2
 *            a packet from one minibox network to another is dropped: networks are isolated
 *   filter INPUT   → MINIBOX-INPUT
 *            -i minibox0 -d 127.0.0.0/8 (not a reply) -j DROP   see route_localnet below
 *
 * Published ports from the host itself (`curl 127.0.0.1:18081`): Docker's default is a userland
 * proxy (docker-proxy listening on the port). minibox uses the kernel path instead, which Docker
 * also supports (`userland-proxy: false`): the OUTPUT DNAT above rewrites 127.0.0.1:18081 to the
 * container, but a packet with source 127.0.0.1 may not leave through a real interface unless
 * `route_localnet=1` is set on it (bridge.ts sets it on minibox's own bridge only), and the
 * container could not answer 127.0.0.1 (that is its *own* loopback) — so the second MASQUERADE
 * rule gives such packets the bridge's address as source. Nothing has to keep running for a
 * detached container's ports to work, which is why no proxy process is needed.
 * The price of route_localnet: the host would now also *accept* packets for 127.0.0.1 arriving
 * on the bridge, so a container could reach services the host binds to localhost only (the
 * CVE-2020-8558 class of bug). MINIBOX-INPUT drops them, letting through only replies to
 * connections the host opened.
 *
 * Every rule carries a comment naming the network or container, so `iptables-save | grep minibox`
 * shows exactly what minibox added.
 *
 * Try: `minibox run -d -p 127.0.0.1:18083:80 busybox sleep 60 >/dev/null && iptables -t nat -S
 * MINIBOX-DNAT` → `--dport 18083 … -j DNAT --to-destination 172.…0.2:80`
 */
import { publishStep } from '../sys/trace.js';
import { iptables, netStep, runProgram, tryNetStep } from './host-commands.js';

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
  'MINIBOX-INPUT': [{ table: 'filter', builtin: 'INPUT', spec: ['-j', 'MINIBOX-INPUT'] }],
};

function comment(text: string): string[] {
  return ['-m', 'comment', '--comment', text];
}

/** NAT and forwarding for a whole network; present while its bridge exists. */
export function networkRules(network: { Name: string; Subnet: string; Bridge: string }): FirewallRule[] {
  // The bridge in the comment: device names are host-wide, network names only per state root.
  const about = `minibox network ${network.Name} (${network.Bridge})`;
  return [
    { table: 'nat', chain: 'MINIBOX-POSTROUTING', spec: ['-s', network.Subnet, '!', '-o', network.Bridge, ...comment(`${about}: egress NAT`), '-j', 'MASQUERADE'] },
    { table: 'nat', chain: 'MINIBOX-POSTROUTING', spec: ['-s', '127.0.0.0/8', '-o', network.Bridge, ...comment(`${about}: published ports from localhost`), '-j', 'MASQUERADE'] },
    { table: 'filter', chain: 'MINIBOX-FORWARD', spec: ['-i', network.Bridge, ...comment(`${about}: from containers`), '-j', 'ACCEPT'] },
    // Into the bridge only what a container asked for (replies) or what a published port let in
    // (its connection was DNAT'd in MINIBOX-DNAT); everything else routed towards a container is
    // dropped, even when the host's FORWARD policy is ACCEPT. Without this, ip_forward=1 makes
    // every listening port of every container reachable from the LAN by its private address.
    { table: 'filter', chain: 'MINIBOX-FORWARD', spec: ['-o', network.Bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...comment(`${about}: replies to containers`), '-j', 'ACCEPT'] },
    { table: 'filter', chain: 'MINIBOX-FORWARD', spec: ['-o', network.Bridge, '-m', 'conntrack', '--ctstate', 'DNAT', ...comment(`${about}: published ports`), '-j', 'ACCEPT'] },
    { table: 'filter', chain: 'MINIBOX-FORWARD', spec: ['-o', network.Bridge, ...comment(`${about}: nothing else into containers`), '-j', 'DROP'] },
    // Isolation, in two stages as Docker does (one rule cannot say "in on A, out on another
    // minibox bridge"): stage 1 sends whatever leaves this bridge for elsewhere to stage 2, which
    // drops it if it is about to enter any minibox bridge. Listed after MINIBOX-FORWARD so that
    // its jump is inserted in front of it, and stage 2 before stage 1, which refers to it.
    { table: 'filter', chain: 'MINIBOX-ISOLATION-2', spec: ['-o', network.Bridge, ...comment(`${about}: isolation`), '-j', 'DROP'] },
    { table: 'filter', chain: 'MINIBOX-ISOLATION-1', spec: ['-i', network.Bridge, '!', '-o', network.Bridge, ...comment(`${about}: isolation`), '-j', 'MINIBOX-ISOLATION-2'] },
    { table: 'filter', chain: 'MINIBOX-INPUT', spec: ['-i', network.Bridge, '-d', '127.0.0.0/8', '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED', ...comment(`${about}: no way into the host loopback`), '-j', 'DROP'] },
  ];
}

/**
 * Rules older minibox versions added for a network and this one no longer wants: the blanket
 * `-o BRIDGE -j ACCEPT` that opened every container port to the LAN. Removed wherever found, so
 * that a host upgraded with containers running does not keep it in front of the DROP.
 */
export function retiredNetworkRules(network: { Name: string; Bridge: string }): FirewallRule[] {
  return [
    { table: 'filter', chain: 'MINIBOX-FORWARD', spec: ['-o', network.Bridge, ...comment(`minibox network ${network.Name}: to containers`), '-j', 'ACCEPT'] },
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
        { table, chain: jump.builtin, action: 'jump', to: chain, rule: jump.spec.join(' ') });
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

/** The trace step (and so the `--explain` sentence, explain.ts) a rule is added under. */
export function stepName(rule: FirewallRule): string {
  if (rule.chain === 'MINIBOX-DNAT') return 'net.dnat';
  if (rule.chain === 'MINIBOX-POSTROUTING') return 'net.nat';
  if (rule.chain.startsWith('MINIBOX-ISOLATION')) return 'net.isolation';
  if (rule.chain === 'MINIBOX-INPUT') return 'net.input';
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

/** The DNAT rules on the host that name this container in their comment (any state root's). */
export async function containerDnatRules(containerId: string): Promise<FirewallRule[]> {
  const listing = await runProgram(iptables('nat', '-S', 'MINIBOX-DNAT'));
  if (listing.code !== 0) return [];
  const marker = `minibox container ${containerId.slice(0, 12)}`;
  return listing.stdout.split('\n').filter((line) => line.startsWith('-A MINIBOX-DNAT ') && line.includes(marker)).map((line) => ({
    table: 'nat' as const, chain: 'MINIBOX-DNAT',
    spec: [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((match) => match[1] ?? match[2]!).slice(2),
  }));
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

/*
 * Whole rule sets at once. A network's six rules one by one cost ~24 `iptables` processes to add
 * (check the chain, check each jump, check the rule, append) and as many to remove. Instead:
 * one `iptables-save` shows what exists, and one `iptables-restore --noflush` applies exactly
 * what is missing (or, on removal, present) as one transaction — the same lines `iptables`
 * would take (`:CHAIN` creates a chain, `-I`, `-A`, `-D`, `-X`). Should the transaction fail,
 * the one-by-one functions above run instead: they are slower, but name the rule that failed.
 * A rule counts as present when a line of its chain carries its comment and its target; every
 * network rule has a comment of its own in its chain (port rules do not, so they stay one by one).
 */

interface Ruleset { chains: Set<string>; lines: string[] }
export type Rulesets = Record<Table, Ruleset>;

/** The nat and filter tables as they are now (two `iptables-save`, run at the same time). */
export async function readRulesets(): Promise<Rulesets> {
  const read = async (table: Table): Promise<Ruleset> => {
    const result = await runProgram(['iptables-save', '-t', table]);
    const lines = result.code === 0 ? result.stdout.split('\n') : [];
    return { chains: new Set(lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!)), lines };
  };
  const [nat, filter] = await Promise.all([read('nat'), read('filter')]);
  return { nat, filter };
}

function commentOf(spec: string[]): string | undefined {
  const index = spec.indexOf('--comment');
  return index >= 0 ? spec[index + 1] : undefined;
}

function targetOf(spec: string[]): string {
  return spec[spec.lastIndexOf('-j') + 1] ?? '';
}

function isPresent(set: Ruleset, chain: string, spec: string[]): boolean {
  const comment = commentOf(spec);
  const target = ` -j ${targetOf(spec)}`;
  return set.lines.some((line) => line.startsWith(`-A ${chain} `)
    && (line.endsWith(target) || line.includes(`${target} `))
    && (comment === undefined || line.includes(`--comment "${comment}"`) || line.includes(`--comment ${comment} `)));
}

function restoreWord(word: string): string {
  return /^[^\s"']+$/.test(word) ? word : `"${word.replace(/"/g, '\\"')}"`;
}

interface Change { table: Table; line: string[]; step: string; args: Record<string, unknown> }

async function applyChanges(changes: Change[]): Promise<boolean> {
  if (changes.length === 0) return true;
  let input = '';
  for (const table of ['nat', 'filter'] as Table[]) {
    const mine = changes.filter((change) => change.table === table);
    if (mine.length === 0) continue;
    input += `*${table}\n${mine.map((change) => change.line.map(restoreWord).join(' ')).join('\n')}\nCOMMIT\n`;
  }
  const start = performance.now();
  const result = await runProgram(['iptables-restore', '--noflush'], input);
  if (result.code !== 0) return false;
  const ms = (performance.now() - start) / changes.length; // one iptables-restore made them all
  for (const change of changes) {
    const words = change.line[0]!.startsWith(':') ? ['-N', change.line[0]!.slice(1)] : change.line;
    publishStep(change.step, { ...change.args, command: iptables(change.table, ...words).join(' ') }, undefined, ms);
  }
  return true;
}

function ruleChange(rule: FirewallRule, action: '-A' | '-D'): Change {
  return { table: rule.table, line: [action, rule.chain, ...rule.spec], step: stepName(rule), args: { table: rule.table, chain: rule.chain, rule: rule.spec.join(' '), ...(action === '-D' ? { action: 'delete' } : {}) } };
}

/** The chain and its jumps, where missing (noted in `sets`, so that they are made once). */
function chainChanges(sets: Rulesets, table: Table, chain: string): Change[] {
  const changes: Change[] = [];
  if (!sets[table].chains.has(chain)) {
    sets[table].chains.add(chain);
    changes.push({ table, line: [`:${chain}`, '-', '[0:0]'], step: 'net.iptables', args: { table, chain, action: 'create chain' } });
  }
  for (const jump of CHAIN_JUMPS[chain] ?? []) {
    if (isPresent(sets[jump.table], jump.builtin, jump.spec)) continue;
    sets[jump.table].lines.push(`-A ${jump.builtin} ${jump.spec.join(' ')}`);
    changes.push({ table: jump.table, line: ['-I', jump.builtin, '1', ...jump.spec], step: 'net.iptables', args: { table, chain: jump.builtin, action: 'jump', to: chain, rule: jump.spec.join(' ') } });
  }
  return changes;
}

/**
 * Adds the rules (and their chains and jumps) that are missing; `addRule` semantics, in one go.
 * `retired` rules that are present are deleted in the same transaction, before the additions.
 * `current` is what readRulesets() returned, when the caller read the tables ahead of time;
 * `chains` are made (with their jumps) even while they hold no rule (MINIBOX-DNAT, kept-bridge.ts).
 */
export async function addRules(rules: FirewallRule[], retired: FirewallRule[] = [], current?: Rulesets, chains: { table: Table; chain: string }[] = []): Promise<void> {
  const sets = current ?? await readRulesets();
  const changes: Change[] = retired.filter((rule) => isPresent(sets[rule.table], rule.chain, rule.spec)).map((rule) => ruleChange(rule, '-D'));
  for (const { table, chain } of chains) changes.push(...chainChanges(sets, table, chain));
  for (const rule of rules) {
    changes.push(...chainChanges(sets, rule.table, rule.chain));
    if (!isPresent(sets[rule.table], rule.chain, rule.spec)) changes.push(ruleChange(rule, '-A'));
  }
  if (await applyChanges(changes)) return;
  for (const rule of retired) await deleteRule(rule);
  for (const { table, chain } of chains) await ensureChain(table, chain);
  for (const rule of rules) await addRule(rule);
}

/**
 * A container's published ports, added (or deleted) in one `iptables-restore --noflush` without
 * reading the tables first: MINIBOX-DNAT is there while the default bridge is kept, and the rules
 * are this container's own. If the transaction fails (no chain yet, a rule already gone), the
 * one-by-one functions above do it and name what failed. `keepChain`: leave MINIBOX-DNAT even
 * when this emptied it (it belongs to the kept plumbing).
 */
export async function addPortRules(rules: FirewallRule[]): Promise<void> {
  if (rules.length === 0 || await applyChanges(rules.map((rule) => ruleChange(rule, '-A')))) return;
  for (const rule of rules) await addRule(rule);
}

export async function deletePortRules(rules: FirewallRule[], keepChain: boolean): Promise<void> {
  if (rules.length > 0 && !(await applyChanges(rules.map((rule) => ruleChange(rule, '-D'))))) {
    for (const rule of rules) await deleteRule(rule);
  } else if (rules.length > 0 && !keepChain) {
    await removeChainIfEmpty('nat', 'MINIBOX-DNAT');
  }
}

/**
 * Deletes the rules that are present, then the chains left empty and their jumps; `deleteRule`
 * semantics, in one go. `current`: what readRulesets() returned, when read ahead of time.
 */
export async function deleteRules(rules: FirewallRule[], current?: Rulesets, alsoChains: { table: Table; chain: string }[] = []): Promise<void> {
  const sets = current ?? await readRulesets();
  const changes: Change[] = [];
  const deleted = new Map<string, number>();
  const chains: { table: Table; chain: string }[] = [...alsoChains];
  for (const rule of rules) {
    if (!chains.some((c) => c.table === rule.table && c.chain === rule.chain)) chains.push({ table: rule.table, chain: rule.chain });
    if (!isPresent(sets[rule.table], rule.chain, rule.spec)) continue;
    deleted.set(`${rule.table} ${rule.chain}`, (deleted.get(`${rule.table} ${rule.chain}`) ?? 0) + 1);
    changes.push(ruleChange(rule, '-D'));
  }
  const removals: Change[] = [];
  for (const { table, chain } of chains) {
    const set = sets[table];
    if (!set.chains.has(chain)) continue;
    const left = set.lines.filter((line) => line.startsWith(`-A ${chain} `)).length - (deleted.get(`${table} ${chain}`) ?? 0);
    if (left > 0) continue;
    for (const jump of CHAIN_JUMPS[chain] ?? []) {
      const count = sets[jump.table].lines.filter((line) => line.startsWith(`-A ${jump.builtin} `) && line.endsWith(` -j ${chain}`)).length;
      for (let i = 0; i < count; i++) {
        changes.push({ table: jump.table, line: ['-D', jump.builtin, ...jump.spec], step: 'net.iptables', args: { table, chain: jump.builtin, action: 'unjump', to: chain } });
      }
    }
    removals.push({ table, line: ['-X', chain], step: 'net.iptables', args: { table, chain, action: 'delete chain' } });
  }
  if (await applyChanges([...changes, ...removals])) return;
  for (const rule of rules) await deleteRule(rule);
  for (const { table, chain } of alsoChains) await removeChainIfEmpty(table, chain);
}
