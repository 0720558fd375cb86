/**
 * The network chapter of `--explain` (issue 21), on a bridge and subnet of this file's own: a
 * default `run` is told in under 30 lines of at most 100 columns, its network in four; a
 * published port says that only packets to this host's own addresses are redirected
 * (`-m addrtype --dst-type LOCAL`, the jump rules' match); and `--explain=all` says what each
 * rule really does — the 127.0.0.0/8 MASQUERADE and the MINIBOX-INPUT loopback DROP no longer
 * borrow another rule's sentence.
 *
 * Run under the network lock: `flock /tmp/minibox-net.lock npx vitest run test/network/explain-story.test.ts`.
 * Checked against main before the change (commit 1f9f901): `run --explain` printed 59 lines up to
 * 538 columns, the jump rule's sentence had no addrtype, the MASQUERADE of 127.0.0.0/8 said
 * "containers' private source addresses are replaced", the loopback DROP "packets between two
 * minibox networks are dropped".
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StateRoot } from '../../src/state-root.js';
import { expectNoContainers, expectNoLeaks } from '../helpers/leaks.js';
import { startWorld, type LifecycleWorld } from '../lifecycle/helpers.js';
import { expectNoNetworkLeaks, snapshotHostNetwork, type HostNetworkSnapshot } from './netns-helpers.js';
import { useFreeBridge } from '../helpers/free-subnet.js';

const free = useFreeBridge('explain-story');
/** The subnet's first three numbers, as a regular expression (`10\.201\.7`). */
const net = free.pattern.replace(/\\\.\\d\+$/, '');

let world: LifecycleWorld;
let before: HostNetworkSnapshot;

beforeAll(async () => {
  before = snapshotHostNetwork();
  world = await startWorld();
});
afterEach(() => {
  expectNoLeaks(world.root);
  expectNoNetworkLeaks(before, new StateRoot(world.root));
});
afterAll(async () => {
  await world?.close();
  expectNoContainers(world.root);
  fs.rmSync(world.root, { recursive: true, force: true });
});

/** The story of the start: up to the story of what followed (the --rm clean-up). */
function startStory(stderr: string): string[] {
  const lines = stderr.split('\n').filter(Boolean);
  const next = lines.findIndex((line, i) => i > 0 && line.startsWith('the story of '));
  return next < 0 ? lines : lines.slice(0, next);
}

describe('the network chapter', () => {
  it('the second container finds the bridge and its rules "already there" and makes none; network prune takes them down', async () => {
    expect((await world.mb(['run', '--rm', world.image, 'true'])).code).toBe(0);
    const run = await world.mb(['run', '--rm', '--explain', world.image, 'true']);
    expect(run.code, run.stderr).toBe(0);
    const chapter = startStory(run.stderr).filter((l, i, all) => i > all.findIndex((x) => x.startsWith('4 network')) && i < all.findIndex((x) => x.startsWith('5 file system')));
    expect(chapter.join('\n')).toMatch(new RegExp(`^ {2}bridge ${free.name} already there: kept, with its NAT and firewall rules`, 'm'));
    expect(chapter.join('\n'), 'no bridge, NAT or filter rule made again').not.toMatch(/a virtual switch|NAT: |filter: /);
    expect(run.stderr).toMatch(new RegExp(`bridge ${free.name} kept for the next container: \`minibox network prune\` takes it down`));
    const all = await world.mb(['run', '--rm', '--explain=all', world.image, 'true']);
    expect(all.stderr).toMatch(new RegExp(`bridge ${free.name} already there: kept, with its NAT and firewall rules and ip_forward`));
    expect(all.stderr).not.toMatch(/ip link add \S+ type bridge|iptables-restore|create iptables chain/);
    const prune = await world.mb(['network', 'prune', '-f', '--explain']);
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stderr).toMatch(new RegExp(`bridge ${free.name} deleted: no container is on it`));
    expect(fs.existsSync(`/sys/class/net/${free.name}`), 'the bridge is gone after the prune').toBe(false);
  });

  it('a default run is told in under 30 lines of ≤ 100 columns; its network in four', async () => {
    const run = await world.mb(['run', '--rm', '--explain', world.image, 'true']);
    expect(run.code, run.stderr).toBe(0);
    const story = startStory(run.stderr);
    expect(story.length, story.join('\n')).toBeLessThan(30);
    for (const line of run.stderr.split('\n')) expect([...line].length, line).toBeLessThanOrEqual(100);
    const chapter = story.slice(story.findIndex((l) => l.startsWith('4 network')), story.findIndex((l) => l.startsWith('5 file system')));
    expect(chapter.join('\n')).toMatch(new RegExp(`^ {2}veth pair: its eth0 ${net}\\.\\d+/24 on the bridge, IPv6 off, its name in /etc/hosts`, 'm'));
    expect(chapter.join('\n')).toMatch(new RegExp(`^ {2}bridge ${free.name} \\(${net}\\.1/24\\): a virtual switch, the host routes for it`, 'm'));
    expect(chapter.join('\n')).toMatch(/^ {2}NAT: out → the host's address; from 127\.0\.0\.1 → the bridge's/m);
    expect(chapter.join('\n')).toMatch(/^ {2}filter: in only replies, published ports; closed: other networks, the host's 127\/8/m);
    expect(chapter.length).toBe(5);
    // --rm: what followed is told after the program's exit.
    expect(run.stderr).toMatch(/^the story of what followed/m);
    expect(run.stderr).toMatch(/back in the network's pool \(IPAM\)/);
  });

  it('a published port: only packets to this host\'s own addresses (addrtype LOCAL); =all says each rule\'s truth', async () => {
    const run = await world.mb(['run', '--rm', '--explain', '-p', '127.0.0.1:18071:80', world.image, 'true']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`^ {2}published: 18071 → ${net}\\.\\d+:80, if addressed to this host\\s+· DNAT; -m addrtype --dst-type LOCAL$`, 'm'));

    // The bridge's rules are told when they are made: take the kept ones down first. MINIBOX-DNAT
    // is shared host-wide: while another root's container publishes a port, its jumps stay (and
    // are not made, so not told, here).
    expect((await world.mb(['network', 'prune', '-f'])).code).toBe(0);
    const dnatThere = spawnSync('iptables', ['-w', '-t', 'nat', '-S', 'MINIBOX-DNAT']).status === 0;
    const all = await world.mb(['run', '--rm', '--explain=all', '-p', '127.0.0.1:18071:80', world.image, 'true']);
    expect(all.code, all.stderr).toBe(0);
    if (!dnatThere) expect(all.stderr).toMatch(/jump from PREROUTING to MINIBOX-DNAT with -m addrtype --dst-type LOCAL: only packets addressed to one of this host's own addresses/);
    const masquerade = all.stderr.split('\n').find((line) => line.includes('-s 127.0.0.0/8') && line.includes('MASQUERADE'));
    expect(masquerade).toMatch(/from the host's own 127\.0\.0\.1 to a published port leaves with the bridge's address/);
    expect(masquerade).not.toMatch(/containers' private source addresses/);
    const loopback = all.stderr.split('\n').find((line) => line.includes('MINIBOX-INPUT:') && line.includes('-j DROP'));
    expect(loopback).toMatch(/packets from containers to the host's 127\.0\.0\.0\/8 are dropped/);
    expect(loopback).not.toMatch(/between two minibox networks/);
  });
});
