/**
 * kept-bridge.ts — the default bridge stays up between containers, as docker0 does.
 *
 * A network's plumbing — the bridge with its gateway address and route_localnet, ip_forward,
 * the NAT, forwarding, isolation and loopback rules, and the DNAT chain with its two jumps —
 * costs about a dozen `ip`/`iptables` processes to make and as many to take down. Docker pays
 * that once: dockerd makes docker0 and its chains when it starts and keeps them while it runs.
 * minibox has no daemon, so the first container on the default `bridge` network makes them, and
 * they *stay* when the last container leaves. The next container finds them "already there"
 * (`--explain` says so) and adds only its own veth pair, address and published ports: three
 * processes instead of ~17 for a `run --rm`. (User networks still lose their bridge with their
 * last container: `network create` is the user's decision, their count is not bounded.)
 *
 * The kept plumbing is state, so it is recorded: <root>/networks/bridge/kept.json is written
 * once every piece is made — a crash half-way leaves no record, and the next container redoes
 * what is missing (every step is idempotent). The record alone is never trusted: each attach
 * reads the bridge's owner alias from sysfs (/sys/class/net/BRIDGE/ifalias — a file read, no
 * process), so after a reboot or an `ip link del` the plumbing is simply made again. Concurrency:
 * all of this runs under the host network lock (host-state.ts), so of two "first" containers
 * started at once, one makes the plumbing and the other finds it there.
 *
 * It goes away with `minibox network prune` or `minibox system prune` when no container is on
 * it; the last minibox bridge to go gives ip_forward its saved value back. A bridge whose state
 * root was deleted (its alias names a root that has no such network record anymore) is an
 * orphan: the next prune, or the next first container of any root, removes it and its rules.
 * `minibox system fsck` checks the record against the host (fsck-network.ts).
 *
 * Try: `minibox run --rm busybox true && minibox run --rm --explain=all busybox true 2>&1 | grep -o
 * 'already there: kept'` → `already there: kept`
 */
import fs from 'node:fs';
import path from 'node:path';
import { StateRoot } from '../state-root.js';
import { publishStep } from '../sys/trace.js';
import { deviceAlias, ownerTag } from './bridge-claims.js';
import { deleteBridge } from './bridge.js';
import { deleteRules, readRulesets, type FirewallRule, type Rulesets } from './firewall.js';
import { restoreForwardingIfUnused } from './host-state.js';
import { DEFAULT_NETWORK, networkDir, readNetwork, type NetworkRecord } from './networks.js';

/** What <root>/networks/<name>/kept.json says. */
export interface KeptRecord {
  Bridge: string;
  Subnet: string;
  /** When the first container made the plumbing. */
  Since: string;
}

function keptFile(root: StateRoot, network: string): string {
  return path.join(networkDir(root, network), 'kept.json');
}

/** Only the default network keeps its plumbing between containers. */
export function keepsPlumbing(network: NetworkRecord): boolean {
  return network.Name === DEFAULT_NETWORK;
}

export function readKept(root: StateRoot, network: NetworkRecord): KeptRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(keptFile(root, network.Name), 'utf8')) as KeptRecord;
    return record.Bridge === network.Bridge && record.Subnet === network.Subnet ? record : undefined;
  } catch {
    return undefined;
  }
}

/** The plumbing is recorded complete and the bridge is up as this network's: nothing to make. */
export function plumbingAlreadyThere(root: StateRoot, network: NetworkRecord): boolean {
  return keepsPlumbing(network) && readKept(root, network) !== undefined && deviceAlias(network.Bridge) === ownerTag(root, network);
}

/** Records the plumbing as complete (after its last step; atomically). Host lock held. */
export function recordKept(root: StateRoot, network: NetworkRecord): void {
  const file = keptFile(root, network.Name);
  const record: KeptRecord = { Bridge: network.Bridge, Subnet: network.Subnet, Since: new Date().toISOString() };
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

export function forgetKept(root: StateRoot, network: NetworkRecord): void {
  fs.rmSync(keptFile(root, network.Name), { force: true });
}

/** `--explain`: the bridge and its rules were found, not made. */
export function narrateAlreadyThere(root: StateRoot, network: NetworkRecord): void {
  const since = readKept(root, network)?.Since ?? '';
  publishStep('net.bridge', { bridge: network.Bridge, network: network.Name, action: 'already there', since });
  publishStep('net.iptables', { table: 'nat', chain: 'MINIBOX-*', bridge: network.Bridge, action: 'already there' });
}

// ---- orphans: kept bridges of state roots that are gone ----

const OWNER = /^minibox network ([0-9a-f]{1,12}) \((.+)\) of (\/.*)$/;

/** Minibox bridges on the host whose alias names a root/network that no longer uses them, with no port plugged in. */
export function orphanBridges(): string[] {
  let names: string[] = [];
  try { names = fs.readdirSync('/sys/class/net'); } catch { return []; }
  return names.filter((name) => /^(minibox|mbr-)/.test(name) && fs.existsSync(`/sys/class/net/${name}/bridge`)).filter((name) => {
    const owner = OWNER.exec(deviceAlias(name) ?? '');
    if (!owner) return false; // not made by minibox (or by a version without owner tags): not ours to judge
    let ports: string[] = [];
    try { ports = fs.readdirSync(`/sys/class/net/${name}/brif`); } catch { /* none */ }
    if (ports.length > 0) return false; // something is still plugged in
    const record = fs.existsSync(owner[3]!) ? readNetwork(new StateRoot(owner[3]!), owner[2]!) : undefined;
    return !record || record.Bridge !== name || !record.Id.startsWith(owner[1]!);
  });
}

/** The rules in minibox's chains that name `bridge` (by device or in their comment), parsed back. */
export function rulesNamingBridge(sets: Rulesets, bridge: string): FirewallRule[] {
  const rules: FirewallRule[] = [];
  for (const table of ['nat', 'filter'] as const) {
    for (const line of sets[table].lines) {
      if (!/^-A MINIBOX-/.test(line)) continue;
      if (!(line.includes(` -i ${bridge} `) || line.includes(` -o ${bridge} `) || line.includes(`(${bridge})`))) continue;
      const words = [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((match) => match[1] ?? match[2]!);
      rules.push({ table, chain: words[1]!, spec: words.slice(2) });
    }
  }
  return rules;
}

/** Removes orphaned minibox bridges and their rules (host lock held). Returns their names. */
export async function removeOrphanBridges(): Promise<string[]> {
  const orphans = orphanBridges();
  if (orphans.length === 0) return [];
  const sets = await readRulesets();
  // deleteRules removes every rule first and only then the chains left empty, with their jumps
  // (MINIBOX-DNAT too, if empty, as removeNetworkPlumbingIfUnused does).
  await deleteRules(orphans.flatMap((bridge) => rulesNamingBridge(sets, bridge)), sets, [{ table: 'nat', chain: 'MINIBOX-DNAT' }]);
  for (const bridge of orphans) {
    publishStep('net.bridge', { bridge, network: '?', action: 'orphan' });
    await deleteBridge({ Bridge: bridge, Name: '?' } as NetworkRecord);
  }
  await restoreForwardingIfUnused();
  return orphans;
}
