/**
 * Helpers for network tests: a "container" without minibox run — a process in a fresh network
 * namespace (`unshare --net`) — plus commands inside it and a host-wide leak check.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { hostsFile } from '../../src/bundle/etc-files.js';
import { StateRoot } from '../../src/state-root.js';
import { expectNoLeaks, expectNoNetworkLeaksOfRoot } from '../helpers/leaks.js';
import { endWorld, startWorld, type LifecycleWorld } from '../lifecycle/helpers.js';

export interface FakeContainer {
  id: string;
  name: string;
  pid: number;
  /** Its hosts file, as the engine would write and bind-mount it. */
  hostsFile: string;
  stop(): Promise<void>;
}

const started = new Set<ChildProcess>();

/** TCP ports some socket listens on, in the network namespace of `pid` (/proc/PID/net/tcp{,6} are per namespace). */
export function listeningPorts(pid: number): number[] {
  let table = '';
  for (const file of ['tcp', 'tcp6']) {
    try { table += fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8'); } catch { /* exited */ }
  }
  return table.split('\n').map((line) => line.trim().split(/\s+/))
    .filter((fields) => /^\d+:$/.test(fields[0] ?? ''))
    .filter((fields) => fields[3] === '0A') // TCP_LISTEN
    .map((fields) => parseInt(fields[1]!.split(':')[1]!, 16));
}

/**
 * Starts `command` in a new network namespace; resolves once the namespace exists and, for an
 * `httpd -p PORT`, once it listens (being "ready" before the listener is a race: a request sent
 * at once would be refused). Writes the engine's initial hosts file under
 * `<root>/containers/<id>/hosts`.
 */
export async function startFakeContainer(root: StateRoot, name: string, command: string[] = ['sleep', '300']): Promise<FakeContainer> {
  const id = `${Buffer.from(name).toString('hex')}${'0'.repeat(64)}`.slice(0, 64);
  const hosts = path.join(root.containers, id, 'hosts');
  fs.mkdirSync(path.dirname(hosts), { recursive: true });
  fs.writeFileSync(hosts, hostsFile(id.slice(0, 12)));
  const child = spawn('unshare', ['--net', 'sh', '-c', 'echo ready; exec "$@"', 'sh', ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`fake container ${name} exited (${code})`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = command.includes('httpd') && command.includes('-p') ? Number(command[command.indexOf('-p') + 1]) : undefined;
  if (port !== undefined) {
    const deadline = Date.now() + 30_000;
    while (!listeningPorts(child.pid!).includes(port)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`fake container ${name}: httpd never listened on ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return {
    id, name, pid: child.pid!, hostsFile: hosts,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      started.delete(child);
      fs.rmSync(path.dirname(hosts), { recursive: true, force: true });
    },
  };
}

/** Runs a command inside the container's network namespace. */
export function inNetns(pid: number, argv: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, ...argv], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** `wget -qO- URL` from inside the container (its /etc/hosts replaced by `hosts` if given). */
export function fetchFrom(pid: number, url: string, hosts?: string): { code: number; stdout: string; stderr: string } {
  if (hosts === undefined) return inNetns(pid, ['busybox', 'wget', '-qO-', url]);
  // A private mount namespace so the bind mount over /etc/hosts never reaches the host.
  return inNetns(pid, ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
    'mount --bind "$0" /etc/hosts && exec busybox wget -qO- "$1"', hosts, url]);
}

/** A web root whose index.html says `text`. */
export function webRoot(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-www-'));
  fs.writeFileSync(path.join(dir, 'index.html'), `${text}\n`);
  return dir;
}

function lines(command: string): string[] {
  return spawnSync('sh', ['-c', command], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() !== '');
}

export interface HostNetworkSnapshot { veths: string[]; netns: string[]; ipForward: string }

export function snapshotHostNetwork(): HostNetworkSnapshot {
  return {
    veths: lines("ip -o link show type veth | awk -F': ' '{print $2}'").sort(),
    netns: lines('ip netns list').sort(),
    ipForward: fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(),
  };
}

/**
 * Nothing of this state root's networks (or the test's) is left on the host: its bridges, rules
 * naming them or its subnets, new veths, IPAM entries (test/helpers/leaks.ts, scoped to the root
 * so that other minibox runs on the machine do not fail the test), and no named netns appeared.
 */
export function expectNoNetworkLeaks(before: HostNetworkSnapshot, root: StateRoot): void {
  expect(snapshotHostNetwork().netns, 'named network namespaces left behind').toEqual(before.netns);
  expectNoNetworkLeaksOfRoot(root.dir);
}

/** No IPAM entry and no endpoint file left in any network of the state root. */
export function expectNoLedgerEntries(root: StateRoot): void {
  const dir = path.join(root.dir, 'networks');
  for (const network of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const ledger = path.join(dir, network, 'allocations.json');
    const allocations = fs.existsSync(ledger) ? JSON.parse(fs.readFileSync(ledger, 'utf8')) as object : {};
    expect(allocations, `IPAM entries left in network ${network}`).toEqual({});
    const endpoints = path.join(dir, network, 'endpoints');
    expect(fs.existsSync(endpoints) ? fs.readdirSync(endpoints) : [], `endpoints left in network ${network}`).toEqual([]);
  }
}

export function tempStateRoot(): StateRoot {
  return new StateRoot(fs.mkdtempSync(path.join(os.tmpdir(), 'mb-net-root-')));
}

/** Kills any fake container a failed test left running. */
export async function stopAllFakeContainers(): Promise<void> {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  started.clear();
}

/**
 * The usual frame of a network test file: a temp state root, and after each test every fake
 * container stopped and nothing left on the host. Call once at the top level of the file;
 * `dirs` takes extra dirs to delete at the end, `before()` is the host as the file found it.
 */
export function networkTestFrame(): { root: StateRoot; dirs: string[]; before: () => HostNetworkSnapshot } {
  const root = tempStateRoot();
  const dirs: string[] = [];
  let before: HostNetworkSnapshot;
  beforeAll(() => { before = snapshotHostNetwork(); });
  afterEach(async () => {
    await stopAllFakeContainers();
    expectNoNetworkLeaks(before, root);
  });
  afterAll(() => {
    for (const dir of [...dirs, root.dir]) fs.rmSync(dir, { recursive: true, force: true });
  });
  return { root, dirs, before: () => before };
}

/**
 * The frame of a file that runs containers on a bridge: the host's network noted, a world
 * started; after each test its containers removed and nothing left on the host or in the root;
 * at the end the world ended (endWorld). `started` receives the world and the snapshot.
 */
export function withNetworkWorld(started: (world: LifecycleWorld, before: HostNetworkSnapshot) => void): void {
  let world: LifecycleWorld | undefined;
  let before: HostNetworkSnapshot;
  beforeAll(async () => {
    before = snapshotHostNetwork();
    world = await startWorld();
    started(world, before);
  });
  afterEach(async () => {
    if (!world) return;
    await world.removeContainers();
    expectNoLeaks(world.root);
    expectNoNetworkLeaks(before, new StateRoot(world.root));
  });
  afterAll(async () => {
    if (!world) return;
    expectNoNetworkLeaks(before, new StateRoot(world.root));
    await endWorld(world);
  });
}
