/**
 * leaks.ts — after a test: nothing of minibox's may be left running, mounted, plugged in or
 * half-written.
 *
 * `findLeaks(root)` runs every check of LEAK_CHECKS and returns what each one found;
 * `expectNoLeaks(root)` asserts that all of them are empty. The checks, scoped to one state root
 * so that another user's (or a student's own) minibox on the same machine never fails the suite:
 *   - mounts under the state root in the host's mount table, and in *every* process's mount
 *     namespace (/proc/PID/mountinfo): a container that outlived its run keeps its overlay in its
 *     own namespace only, and after pivot_root its root, cwd and argv no longer name the state root;
 *   - processes whose cwd/root is under the state root, or whose command line names it;
 *   - processes in, and directories of, minibox cgroups (/sys/fs/cgroup/minibox/<id>) of this
 *     root's containers, and minibox cgroup directories that appeared since the file started;
 *   - `<root>/tmp` leftovers (downloads, unpacks);
 *   - the network: this root's bridges (from its records and the bridges' owner aliases),
 *     iptables rules naming them, its subnets or a bridge that no longer exists, veth pairs that
 *     appeared since the file started and are plugged into no other live bridge, IPAM entries
 *     and endpoint files; and when no minibox bridge is left on the host, no minibox chain and
 *     no saved ip_forward value either.
 * The default network's bridge is kept between containers (src/network/kept-bridge.ts), as docker0
 * stays while dockerd runs; `expectNoLeaks` first takes an idle kept bridge of the root down the
 * way a user does, with the real `minibox network prune -f` (tearDownKeptBridge), and only then
 * checks — so the checks stay as strict as before, and prove that the prune gives everything back.
 * `allow` names what a test keeps on purpose (a fixture's long-running containers and the engine
 * processes holding them): their processes, mount namespaces, addresses and rules are not leaks.
 *
 *   - and whatever `minibox system fsck` finds in the root (re-hashed blobs, layer completion
 *     records, image records, half-created containers, ghost "running" records, volumes): every
 *     leak check also proves the store is consistent.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { contains, parseIPv4, parseSubnet } from '../../src/network/cidr.js';
import { repoRoot } from './registry.js';

export interface LeakAllowance {
  /** Container ids (full) that may still exist and run. */
  containers?: string[];
  /** Host PIDs (container PID 1s, engines) that may still run; processes sharing their mount namespace too. */
  pids?: number[];
}

export interface LeakScope {
  root: string;
  extraDirs: string[];
  allow: Required<LeakAllowance>;
}

interface LeakCheck { what: string; find(scope: LeakScope): string[] }

function under(file: string, dir: string): boolean {
  const prefix = path.resolve(dir);
  return file === prefix || file.startsWith(`${prefix}/`);
}

function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function pids(): number[] {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
}

function readOr(file: string, fallback = ''): string {
  try { return fs.readFileSync(file, 'utf8'); } catch { return fallback; }
}

function linkOr(file: string): string | undefined {
  try { return fs.readlinkSync(file); } catch { return undefined; }
}

export function mountsUnder(dirs: string[]): string[] {
  return readOr('/proc/self/mountinfo').split('\n')
    .map((line) => line.split(' ')[4])
    .filter((target): target is string => target !== undefined)
    .map(unescapeMountPath)
    .filter((target) => dirs.some((dir) => under(target, dir)));
}

/** Mount namespaces of the allowed PIDs: what runs inside them belongs to an allowed container. */
function allowedNamespaces(scope: LeakScope): Set<string> {
  return new Set(scope.allow.pids.map((pid) => linkOr(`/proc/${pid}/ns/mnt`)).filter((ns): ns is string => ns !== undefined));
}

/**
 * Mounts that name the state root (mount point, source or options such as overlay's upperdir=)
 * in any mount namespace but the host's, each namespace read once through one of its processes.
 */
export function namespaceMounts(scope: LeakScope): string[] {
  const host = linkOr('/proc/self/ns/mnt');
  const skip = allowedNamespaces(scope);
  const seen = new Set<string>();
  const found: string[] = [];
  const prefix = path.resolve(scope.root);
  for (const pid of pids()) {
    const ns = linkOr(`/proc/${pid}/ns/mnt`);
    if (ns === undefined || ns === host || skip.has(ns) || seen.has(ns)) continue;
    seen.add(ns);
    for (const line of readOr(`/proc/${pid}/mountinfo`).split('\n')) {
      if (unescapeMountPath(line).includes(`${prefix}/`)) found.push(`pid ${pid} ${ns}: ${line.split(' ')[4]} (${line.split(' - ')[1] ?? ''})`.slice(0, 300));
    }
  }
  return found;
}

function allowedPid(pid: number, scope: LeakScope, skip: Set<string>): boolean {
  if (pid === process.pid || scope.allow.pids.includes(pid)) return true;
  const ns = linkOr(`/proc/${pid}/ns/mnt`);
  return ns !== undefined && skip.has(ns);
}

export function processesUnder(dir: string, scope?: LeakScope): string[] {
  const skip = scope ? allowedNamespaces(scope) : new Set<string>();
  const found: string[] = [];
  for (const pid of pids()) {
    if (scope && allowedPid(pid, scope, skip)) continue;
    for (const link of ['cwd', 'root']) {
      const target = linkOr(`/proc/${pid}/${link}`);
      if (target !== undefined && under(target, dir)) found.push(`${pid} (${link} ${target})`);
    }
  }
  return found;
}

function fdTargets(pid: number): string[] {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).map((fd) => linkOr(`/proc/${pid}/fd/${fd}`) ?? '');
  } catch {
    return [];
  }
}

/** Processes (other than this one) whose command line mentions `dir` (monitors, init stages), or monitors holding a file under it. */
export function processesMentioning(dir: string, scope?: LeakScope): string[] {
  const prefix = path.resolve(dir);
  const skip = scope ? allowedNamespaces(scope) : new Set<string>();
  const found: string[] = [];
  for (const pid of pids()) {
    if (pid === process.pid || (scope && allowedPid(pid, scope, skip))) continue;
    const args = readOr(`/proc/${pid}/cmdline`).split('\0');
    if (args.some((arg) => under(arg, prefix))) found.push(`${pid} (${args.join(' ').trim()})`);
    // A monitor started early (`run -d`) learns its files after it started: they are open, not named.
    else if (readOr(`/proc/${pid}/comm`).trim() === 'minibox-monitor') {
      const open = fdTargets(pid).filter((target) => under(target, prefix));
      if (open.length > 0) found.push(`${pid} (minibox-monitor holding ${open.join(', ')})`);
    }
  }
  return found;
}

// ---- cgroups ----

const CGROUP_PARENTS = ['/sys/fs/cgroup/minibox', '/sys/fs/cgroup/unified/minibox'];

function cgroupDirs(): string[] {
  return CGROUP_PARENTS.flatMap((parent) => {
    try {
      return fs.readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(parent, e.name));
    } catch { return []; }
  });
}

const cgroupDirsAtStart = new Set(cgroupDirs());
/** Container ids ever seen under a checked root: their cgroups must go with them. */
const containersSeen = new Map<string, Set<string>>();

function containerIds(root: string): string[] {
  const dir = path.join(root, 'containers');
  const ids = fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => /^[0-9a-f]{64}$/.test(name)) : [];
  const seen = containersSeen.get(root) ?? new Set<string>();
  for (const id of ids) seen.add(id);
  containersSeen.set(root, seen);
  return [...seen];
}

/** Processes in a minibox cgroup of one of this root's (not allowed) containers, and such cgroup dirs. */
export function cgroupLeaks(scope: LeakScope): string[] {
  const ours = new Set(containerIds(scope.root).filter((id) => !scope.allow.containers.includes(id)));
  const found: string[] = [];
  for (const dir of cgroupDirs()) {
    const id = path.basename(dir);
    if (scope.allow.containers.includes(id)) continue;
    if (ours.has(id) || !cgroupDirsAtStart.has(dir)) found.push(`cgroup ${dir}`);
  }
  for (const pid of pids()) {
    const membership = /\/minibox\/([0-9a-f]{64})/.exec(readOr(`/proc/${pid}/cgroup`))?.[1];
    if (membership && ours.has(membership)) found.push(`pid ${pid} in cgroup minibox/${membership}`);
  }
  return found;
}

// ---- network ----

function sh(command: string): string[] {
  return spawnSync('sh', ['-c', command], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() !== '');
}

interface Link { ifname: string; master?: string; ifalias?: string; linkinfo?: { info_kind?: string } }

function links(): Link[] {
  return JSON.parse(spawnSync('ip', ['-j', '-d', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]') as Link[];
}

const miniboxBridge = (name: string): boolean => /^(minibox|mbr-)/.test(name);
const vethsAtStart = new Set(links().filter((l) => l.linkinfo?.info_kind === 'veth').map((l) => l.ifname));
const rulesAtStart = new Set(sh('iptables-save'));

interface NetworkRecordLike { Name: string; Bridge: string; Subnet: string }

function rootNetworks(root: string): NetworkRecordLike[] {
  const dir = path.join(root, 'networks');
  return (fs.existsSync(dir) ? fs.readdirSync(dir) : []).flatMap((name) => {
    try { return [JSON.parse(readOr(path.join(dir, name, 'config.json'))) as NetworkRecordLike]; } catch { return []; }
  });
}

function ledger(root: string, network: string): Record<string, string> {
  try { return JSON.parse(readOr(path.join(root, 'networks', network, 'allocations.json'), '{}')) as Record<string, string>; } catch { return {}; }
}

/** IPAM entries and endpoint files of containers that are not allowed to be there. */
export function ledgerLeaks(scope: LeakScope): string[] {
  const found: string[] = [];
  for (const network of rootNetworks(scope.root)) {
    for (const [address, owner] of Object.entries(ledger(scope.root, network.Name))) {
      if (!scope.allow.containers.includes(owner)) found.push(`IPAM ${network.Name}: ${address} → ${owner.slice(0, 12)}`);
    }
    const endpoints = path.join(scope.root, 'networks', network.Name, 'endpoints');
    for (const file of fs.existsSync(endpoints) ? fs.readdirSync(endpoints) : []) {
      if (!scope.allow.containers.includes(file.replace(/\.json$/, ''))) found.push(`endpoint ${network.Name}/${file}`);
    }
  }
  return found;
}

/** Bridges of this root that should be gone (no allowed container holds an address on them). */
function ourBridges(scope: LeakScope, live: Link[]): { expectedGone: Set<string>; subnets: string[] } {
  const expectedGone = new Set<string>();
  const subnets: string[] = [];
  for (const network of rootNetworks(scope.root)) {
    const inUse = Object.values(ledger(scope.root, network.Name)).some((owner) => scope.allow.containers.includes(owner));
    if (!inUse) expectedGone.add(network.Bridge);
    subnets.push(network.Subnet);
  }
  for (const link of live) {
    if (link.ifalias?.endsWith(` of ${path.resolve(scope.root)}`) && !rootNetworks(scope.root).some((n) => n.Bridge === link.ifname)) expectedGone.add(link.ifname);
  }
  return { expectedGone, subnets };
}

export function bridgeLeaks(scope: LeakScope): string[] {
  const live = links();
  const { expectedGone } = ourBridges(scope, live);
  return live.filter((l) => expectedGone.has(l.ifname)).map((l) => `bridge ${l.ifname} (${l.ifalias ?? ''})`);
}

function inSubnets(line: string, subnets: string[]): boolean {
  return [...line.matchAll(/--to-destination (\d+\.\d+\.\d+\.\d+)/g)].some(([, address]) =>
    subnets.some((subnet) => contains(parseSubnet(subnet), parseIPv4(address!) ?? -1)));
}

export function iptablesLeaks(scope: LeakScope): string[] {
  const live = links();
  const liveNames = new Set(live.map((l) => l.ifname));
  const { expectedGone, subnets } = ourBridges(scope, live);
  const allowed12 = scope.allow.containers.map((id) => id.slice(0, 12));
  const lines = sh('iptables-save').filter((line) => !rulesAtStart.has(line));
  const found = lines.filter((line) => {
    if (!/minibox/i.test(line)) return false;
    const devices = [...line.matchAll(/(?:-[io] |\()((?:minibox|mbr-)[\w.-]*)/g)].map((m) => m[1]!);
    if (devices.some((d) => expectedGone.has(d) || !liveNames.has(d))) return true; // ours, or an orphan
    const container = /minibox container ([0-9a-f]{12})/.exec(line)?.[1];
    return container !== undefined && !allowed12.includes(container) && inSubnets(line, subnets);
  });
  if (!live.some((l) => miniboxBridge(l.ifname) && l.linkinfo?.info_kind === 'bridge')) {
    found.push(...lines.filter((line) => /minibox/i.test(line) && !found.includes(line)));
    if (fs.existsSync('/run/minibox/ip_forward.saved')) found.push('/run/minibox/ip_forward.saved (ip_forward not given back)');
  }
  return found;
}

export function vethLeaks(): string[] {
  const live = links();
  const bridges = new Set(live.filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname));
  return live.filter((l) => l.linkinfo?.info_kind === 'veth' && /^(veth|vp)[0-9a-f]{7}$/.test(l.ifname) && !vethsAtStart.has(l.ifname))
    // Plugged into a live bridge that is not ours: another run's container (ours are checked by bridge).
    .filter((l) => !(l.master && bridges.has(l.master)))
    .map((l) => `veth ${l.ifname}`);
}

// ---- the store, as `minibox system fsck` sees it ----

interface FsckReport { remaining: { area: string; subject: string; problem: string }[] }

/** `minibox system fsck --format json` on the root (not created if it is gone), minus allowed containers. */
export function fsckFindings(scope: LeakScope): string[] {
  if (!fs.existsSync(scope.root)) return [];
  const result = spawnSync(process.execPath, [path.join(repoRoot, 'bin/minibox'), '--root', scope.root, 'system', 'fsck', '--format', 'json'],
    { encoding: 'utf8', timeout: 120_000 });
  let report: FsckReport;
  try { report = JSON.parse(result.stdout) as FsckReport; } catch {
    return [`system fsck did not answer (exit ${result.status}): ${(result.stderr || result.stdout).trim().slice(0, 300)}`];
  }
  const allowed = scope.allow.containers.flatMap((id) => [id, id.slice(0, 12)]);
  return report.remaining.filter((f) => !allowed.some((id) => f.subject.includes(id)))
    .map((f) => `${f.area} ${f.subject}: ${f.problem}`);
}

// ---- the checks ----

export const LEAK_CHECKS: LeakCheck[] = [
  { what: 'mounts left behind', find: (s) => mountsUnder([s.root, ...s.extraDirs]) },
  { what: "mounts left in a process's own mount namespace", find: namespaceMounts },
  { what: 'processes left behind (cwd/root)', find: (s) => processesUnder(s.root, s) },
  { what: 'processes left behind (command line)', find: (s) => processesMentioning(s.root, s) },
  { what: 'cgroups left behind', find: cgroupLeaks },
  { what: 'leftovers in <root>/tmp', find: (s) => { const tmp = path.join(s.root, 'tmp'); return fs.existsSync(tmp) ? fs.readdirSync(tmp) : []; } },
  { what: 'bridges left behind', find: bridgeLeaks },
  { what: 'iptables rules left behind', find: iptablesLeaks },
  { what: 'veth pairs left behind', find: () => vethLeaks() },
  { what: 'IPAM entries or endpoints left behind', find: ledgerLeaks },
  { what: 'minibox system fsck findings', find: fsckFindings },
];

/** What each check found (only the checks that found something). */
export function findLeaks(root: string, extraDirs: string[] = [], allow: LeakAllowance = {}): Record<string, string[]> {
  const scope: LeakScope = { root, extraDirs, allow: { containers: allow.containers ?? [], pids: allow.pids ?? [] } };
  const found: Record<string, string[]> = {};
  for (const check of LEAK_CHECKS) {
    const items = check.find(scope);
    if (items.length > 0) found[check.what] = items;
  }
  return found;
}

const NETWORK_CHECKS = new Set(['bridges left behind', 'iptables rules left behind', 'veth pairs left behind', 'IPAM entries or endpoints left behind']);

/**
 * When this root's default network has its bridge kept up with no container on it, takes it down
 * with `minibox --root ROOT network prune -f` (which also removes the root's unused user
 * networks, as Docker's does). A file and a sysfs look decide, so most checks start no process.
 */
export function tearDownKeptBridge(root: string): void {
  const network = rootNetworks(root).find((n) => n.Name === 'bridge');
  if (!network || Object.keys(ledger(root, 'bridge')).length > 0) return;
  const alias = readOr(`/sys/class/net/${network.Bridge}/ifalias`).trim();
  const up = alias.startsWith('minibox network ') && alias.endsWith(` of ${path.resolve(root)}`);
  if (!up && !fs.existsSync(path.join(root, 'networks', 'bridge', 'kept.json'))) return;
  const result = spawnSync(process.execPath, [path.join(repoRoot, 'bin/minibox'), '--root', root, 'network', 'prune', '-f'],
    { encoding: 'utf8', timeout: 120_000 });
  expect(result.status, `minibox network prune -f (taking the kept bridge down): ${result.stderr}`).toBe(0);
}

/** Only the network checks (for tests that plug fake containers in, without a container store). */
export function expectNoNetworkLeaksOfRoot(root: string, allow: LeakAllowance = {}): void {
  tearDownKeptBridge(root);
  const scope: LeakScope = { root, extraDirs: [], allow: { containers: allow.containers ?? [], pids: allow.pids ?? [] } };
  const found: Record<string, string[]> = {};
  for (const check of LEAK_CHECKS.filter((c) => NETWORK_CHECKS.has(c.what))) {
    const items = check.find(scope);
    if (items.length > 0) found[check.what] = items;
  }
  expect(found, `network left behind by state root ${root}`).toEqual({});
}

export function expectNoLeaks(root: string, extraDirs: string[] = [], allow: LeakAllowance = {}): void {
  tearDownKeptBridge(root);
  expect(findLeaks(root, extraDirs, allow), `left behind by state root ${root}`).toEqual({});
}

/** No container directory is left under the state root (after everything was removed). */
export function expectNoContainers(root: string): void {
  const dir = path.join(root, 'containers');
  expect(fs.existsSync(dir) ? fs.readdirSync(dir) : [], 'container dirs left behind').toEqual([]);
}
