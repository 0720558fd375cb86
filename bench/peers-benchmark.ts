/**
 * peers-benchmark.ts — issue #17's table: minibox next to the engines people use, row by row.
 *
 *   exec CTR true                       minibox exec     vs podman exec (docker exec: see below)
 *   run --rm --network none IMG true    minibox run      vs podman+runc, runc run, node -e 0
 *   run --rm IMG true (default bridge)  minibox run      vs podman run (CNI bridge)
 *   bridge cost                         (bridge − none), paired run by run, minibox vs podman
 *   run -d + rm -f                      minibox          vs podman
 *   phases of run --rm and exec         from `--trace` events (phase-profile.ts)
 * The cold pull row (vs skopeo+umoci, and the `curl | tar` floor) is `--only cold-pull`.
 *
 * Every row's commands run in turns (A B C A B C …, measure.ts) so a busy moment of this shared
 * machine hits all of them; medians, and the ratio minibox / peer. Docker is a peer when a daemon
 * answers `docker info`; on these machines none runs (and starting one rewrites the host's
 * iptables, which other engineers' tests share), so its rows say "skipped" with the reason.
 * The bridge rows hold /tmp/minibox-net.lock, the lock the network tests take: podman's network
 * and minibox's default bridge both change the host's firewall.
 *
 * Try: `sudo npm run bench -- --only peers --runs 3`.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { Benchmark, BenchRow, Measurement } from './benchmark.js';
import { measureInTurns, type CommandSpec } from './measure.js';
import { EXEC_PHASES, RUN_PHASES, phaseProfile } from './phase-profile.js';
import { podmanNetworkCleanup, podmanWithImage, type Podman } from './podman.js';
import { IMAGE_LAYER_MIB, pulledRoot } from './pull-benchmarks.js';
import { runcBundle } from './run-benchmark.js';
import type { BenchWorkspace } from './workspace.js';

const NET_LOCK = '/tmp/minibox-net.lock';

/** Why Docker is no peer here, or undefined when its daemon answers. */
function dockerUnavailable(): string | undefined {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 10_000 });
  if (info.error) return 'no docker CLI';
  return info.status === 0 ? undefined : 'no Docker daemon running on this machine (the docker CLI is there; `docker info` fails)';
}

/** How long the bridge rows wait for the network-test lock before they give up (test runs hold it). */
const NET_LOCK_PATIENCE_MS = 30 * 60_000;

/**
 * Takes the shared network-test lock the way the tests do (`flock(1)`, so this waits in the same
 * queue as they do); returns its release, or undefined after the patience ran out. A child
 * `flock LOCK cat` holds it until its stdin closes.
 */
async function holdNetLock(): Promise<(() => void) | undefined> {
  const holder = spawn('flock', [NET_LOCK, 'sh', '-c', 'echo held; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'ignore'] });
  process.stderr.write(`  waiting for ${NET_LOCK} (the network tests' lock)\n`);
  const held = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), NET_LOCK_PATIENCE_MS);
    holder.stdout.once('data', () => { clearTimeout(timer); resolve(true); });
    holder.once('exit', () => { clearTimeout(timer); resolve(false); });
  });
  if (!held) {
    holder.kill();
    return undefined;
  }
  return () => holder.stdin.end();
}

/** run ID of each pair i: a[i] − b[i] (paired, so the machine's load at that moment cancels out). */
function pairedDifference(label: string, a: Measurement, b: Measurement): Measurement {
  return { label, runsMs: a.runsMs.map((ms, i) => ms - (b.runsMs[i] ?? Number.NaN)).filter(Number.isFinite) };
}

function started(workspace: BenchWorkspace, argv: [string, ...string[]], what: string): string {
  const result = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`${what} failed: ${result.stderr.trim().split('\n').pop() ?? ''}`);
  return result.stdout.trim();
}

interface Setting { workspace: BenchWorkspace; root: string; reference: string; podman: Podman | string; runcBundle: string; runs: number }

function minibox(s: Setting, label: string, args: string[], extra: Partial<CommandSpec> = {}): CommandSpec {
  return { label, command: s.workspace.minibox, args: ['--root', s.root, ...args], ...extra };
}

function podman(p: Podman, label: string, args: string[]): CommandSpec {
  return { label, command: 'podman', args: [...p.global, ...args] };
}

async function execRows(s: Setting): Promise<BenchRow[]> {
  const ctr = started(s.workspace, [s.workspace.minibox, '--root', s.root, 'run', '-d', '--network', 'none', s.reference, 'sleep', '100000'], 'minibox run -d');
  s.workspace.onCleanup(() => { spawnSync(s.workspace.minibox, ['--root', s.root, 'rm', '-f', ctr], { stdio: 'ignore' }); });
  const specs: CommandSpec[] = [minibox(s, 'minibox exec CTR true', ['exec', ctr, 'true'])];
  const p = s.podman;
  if (typeof p !== 'string') {
    const pctr = started(s.workspace, ['podman', ...p.global, 'run', '-d', '--network', 'none', ...p.runOptions, p.image, 'sleep', '100000'], 'podman run -d');
    specs.push(podman(p, 'podman exec CTR true', ['exec', pctr, 'true']));
  }
  const [mine, peer] = await measureInTurns(specs, { runs: s.runs, warmup: 1 });
  const rows: BenchRow[] = [{ name: 'exec CTR true', minibox: mine!, ...(peer ? { reference: peer } : {}), goal: '≤ docker exec' }];
  if (typeof p === 'string') rows.push({ name: 'exec CTR true (podman)', skipped: p });
  rows.push(...phaseProfile(s.workspace, s.root, 'exec', ['exec', ctr, 'true'], EXEC_PHASES, s.runs));
  return rows;
}

async function noneRows(s: Setting): Promise<BenchRow[]> {
  const none = ['run', '--rm', '--network', 'none'];
  const runcId = `minibox-bench-peers-${process.pid}`;
  s.workspace.onCleanup(() => { spawnSync('runc', ['delete', '--force', runcId], { stdio: 'ignore' }); });
  const specs: CommandSpec[] = [
    minibox(s, 'minibox run --rm --network none', [...none, s.reference, 'true'], { measureRss: true }),
    { label: 'runc run', command: 'runc', args: ['run', '--bundle', s.runcBundle, runcId] },
    { label: 'node -e 0', command: process.execPath, args: ['-e', '0'] },
  ];
  const p = s.podman;
  if (typeof p !== 'string') specs.push(podman(p, 'podman run --rm --network none', [...none, ...p.runOptions, p.image, 'true']));
  const [mine, runc, node, peer] = await measureInTurns(specs, { runs: s.runs, warmup: 1 });
  const name = 'run --rm --network none IMG true';
  return [
    peer ? { name, minibox: mine!, reference: peer, goal: '≤ every peer' } : { name: `${name} (podman)`, skipped: p as string },
    { name, minibox: mine!, reference: runc!, goal: '≤ every peer' },
    { name, minibox: mine!, reference: node!, goal: '≤ 1.3× node -e 0' },
    ...phaseProfile(s.workspace, s.root, 'run --rm --network none', [...none, s.reference, 'true'], RUN_PHASES, s.runs),
  ];
}

async function bridgeRows(s: Setting): Promise<BenchRow[]> {
  const release = await holdNetLock();
  if (!release) {
    const why = `${NET_LOCK} stayed busy for ${NET_LOCK_PATIENCE_MS / 60_000} min (network tests running)`;
    return [{ name: 'run --rm IMG true (default bridge)', skipped: why }];
  }
  const undoPodmanNetwork = podmanNetworkCleanup();
  try {
    const specs: CommandSpec[] = [
      minibox(s, 'minibox run --rm (bridge)', ['run', '--rm', s.reference, 'true']),
      minibox(s, 'minibox run --rm --network none', ['run', '--rm', '--network', 'none', s.reference, 'true']),
    ];
    const p = s.podman;
    if (typeof p !== 'string') {
      specs.push(podman(p, 'podman run --rm (bridge)', ['run', '--rm', ...p.runOptions, p.image, 'true']));
      specs.push(podman(p, 'podman run --rm --network none', ['run', '--rm', '--network', 'none', ...p.runOptions, p.image, 'true']));
    }
    const [bridge, none, peerBridge, peerNone] = await measureInTurns(specs, { runs: s.runs, warmup: 1 });
    const cost = pairedDifference('bridge − none', bridge!, none!);
    const rows: BenchRow[] = [];
    if (peerBridge && peerNone) {
      rows.push({ name: 'run --rm IMG true (default bridge)', minibox: bridge!, reference: peerBridge, goal: '≤ every peer' });
      const peerCost = pairedDifference('podman bridge − none', peerBridge, peerNone);
      rows.push({ name: 'bridge cost (bridge − none, paired)', minibox: cost, reference: peerCost, goal: '≤ 50 ms' });
    } else {
      rows.push({ name: 'run --rm IMG true (default bridge)', minibox: bridge! });
      rows.push({ name: 'bridge cost (bridge − none, paired)', minibox: cost, goal: '≤ 50 ms' });
    }
    rows.push(...phaseProfile(s.workspace, s.root, 'run --rm (bridge)', ['run', '--rm', s.reference, 'true'], RUN_PHASES, s.runs));
    return rows;
  } finally {
    // The runs above kept the root's default bridge up between them, as docker0 stays up
    // (src/network/kept-bridge.ts): give the host its bridge, rules and ip_forward back.
    spawnSync(s.workspace.minibox, ['--root', s.root, 'network', 'prune', '-f'], { stdio: 'ignore' });
    undoPodmanNetwork();
    release();
  }
}

async function detachedRows(s: Setting): Promise<BenchRow[]> {
  const specs: CommandSpec[] = [{
    label: 'minibox run -d + rm -f', command: 'sh',
    args: ['-c', 'id=$("$0" --root "$1" run -d --network none "$2" sleep 100000) && "$0" --root "$1" rm -f "$id" >/dev/null',
      s.workspace.minibox, s.root, s.reference],
  }];
  const p = s.podman;
  if (typeof p !== 'string') {
    specs.push({
      label: 'podman run -d + rm -f', command: 'sh',
      args: ['-c', `id=$(podman "$@" run -d --network none ${p.runOptions.join(' ')} "$0" sleep 100000) && podman "$@" rm -f -t 0 "$id" >/dev/null`,
        p.image, ...p.global],
    });
  }
  const [mine, peer] = await measureInTurns(specs, { runs: s.runs, warmup: 1 });
  return [{ name: 'run -d + rm -f (--network none)', minibox: mine!, ...(peer ? { reference: peer } : {}), goal: '≤ every peer' }];
}

export const peerTable: Benchmark = {
  id: 'peers',
  title: "issue #17's table: exec, run (none, bridge), run -d + rm -f next to podman, runc, node -e 0",
  async run(workspace) {
    const { reference, image } = await workspace.pushedThreeLayerImage(IMAGE_LAYER_MIB);
    const root = pulledRoot(workspace, reference);
    const s: Setting = {
      workspace, root, reference, podman: podmanWithImage(workspace, reference),
      runcBundle: runcBundle(workspace, image.layout, image.tag), runs: workspace.options.runs * 3,
    };
    const docker = dockerUnavailable();
    const rows: BenchRow[] = [];
    for (const part of [execRows, noneRows, bridgeRows, detachedRows]) {
      try {
        rows.push(...await part(s));
      } catch (error) {
        rows.push({ name: part.name.replace(/Rows$/, ''), skipped: `failed: ${(error as Error).message.split('\n')[0]}` });
      }
    }
    if (docker) rows.push({ name: 'Docker (every row)', skipped: docker });
    return rows;
  },
};
