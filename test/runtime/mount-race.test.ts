/**
 * runc CVE-2021-30465 class: a mount target resolved by path, then acted on by path again.
 *
 * A racer container (native/probes/symlink-racer.c) shares a volume with 500 victim `run -v`
 * containers. In the volume it flips `file` between absent and a symlink to a host canary file,
 * and `dir` between a real directory and a symlink to a host canary directory. Each victim
 * mounts a file onto /shared/file and a directory onto /shared/dir/sub — targets minibox must
 * create inside the shared volume. A runtime that checks the target by path and then creates or
 * mounts by path can be steered onto the host: it truncates the canary file
 * (`writeFile(rootfs/shared/file, '')` through the fresh symlink) or makes `sub` in the canary
 * directory. After every victim the test checks both canaries, so the first touch fails the test.
 *
 * Bounds are counts, not time: 300 victims, each with two targets in the racer's volume; the
 * racer signals readiness through a file and stops when told to, reporting how many rounds it
 * flipped (so the test knows the race really ran during the victims). How many victims win or lose
 * the race depends on the machine's scheduling, so the test never asserts on that: a loser must
 * refuse with the one-line error, a winner must have started, and neither may touch the host.
 * Once the racer has stopped, one more victim must start (the refusals came from the race, not
 * from a target minibox cannot mount). An earlier version asserted that most victims won: on a CI
 * machine 483 of 500 lost, and that assertion, not the defence, failed the run. How it was checked that the test
 * can fail: run against main before this change (targets resolved with the lstat walk, then
 * created and mounted by path — plus the one-line engine fix that lets `-v FILE:…` bind an
 * existing file at all), the very first victim truncated the host canary file
 * ("host canary changed after victim 0").
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minibox } from '../helpers/minibox.js';
import { repoRoot } from '../helpers/registry.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';

const VICTIMS = 300;
const CANARY_TEXT = 'canary: minibox must never write here\n';
const busybox = pulledBusybox('race/busybox');
const probes = path.join(repoRoot, 'native/build/probes');
let work: string;
let shared: string;
let canaryDir: string;
let canaryFile: string;

function waitFor(condition: () => boolean, what: string, deadlineMs = 30_000): void {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

/** What the host canaries look like now; anything but the original means a host file was touched. */
function canaryState(): string {
  const entries = fs.readdirSync(canaryDir).sort().join(',');
  const stat = fs.statSync(canaryFile);
  return `${entries} | ${fs.readFileSync(canaryFile, 'utf8')} | ${stat.size} ${stat.mtimeMs}`;
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-race-'));
  shared = path.join(work, 'shared');
  canaryDir = path.join(work, 'canary-dir');
  canaryFile = path.join(canaryDir, 'canary');
  for (const dir of [shared, canaryDir, path.join(work, 'src-dir')]) fs.mkdirSync(dir);
  fs.writeFileSync(canaryFile, CANARY_TEXT);
  fs.writeFileSync(path.join(work, 'src-file'), 'mounted\n');
});

afterAll(() => {
  if (busybox.root) minibox(busybox.root, ['rm', '-f', 'racer']);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('mount targets in a volume another container is changing', () => {
  it(`${VICTIMS} run -v against a symlink-swap racer never touch a host file`, () => {
    const { root, image } = busybox;
    const racer = minibox(root, ['run', '-d', '--name', 'racer', '--network', 'none', '-v', `${shared}:/shared`,
      '-v', `${probes}:/probes:ro`, image, '/probes/symlink-racer', '/shared', canaryFile, canaryDir]);
    expect(racer.stderr).toBe('');
    expect(racer.code).toBe(0);
    waitFor(() => fs.existsSync(path.join(shared, 'racer-ready')), 'the racer to start');

    const before = canaryState();
    const failures = new Map<string, number>();
    let succeeded = 0;
    // What a victim sees in /shared once started is the racer's business (it keeps unlinking the
    // mount points), so a racing victim runs `true`; the calm one at the end reads its mounts.
    const victimRun = (...command: string[]) => minibox(root, ['run', '--rm', '--network', 'none', '-v', `${shared}:/shared`,
      '-v', `${path.join(work, 'src-file')}:/shared/file:ro`, '-v', `${path.join(work, 'src-dir')}:/shared/dir/sub:ro`,
      image, ...command]);
    for (let victim = 0; victim < VICTIMS; victim++) {
      const run = victimRun('true');
      if (run.code === 0) succeeded++;
      else failures.set(run.stderr.trim(), (failures.get(run.stderr.trim()) ?? 0) + 1);
      // Checked after every victim: the first host file touched fails the test, naming the victim.
      expect(canaryState(), `host canary changed after victim ${victim}`).toBe(before);
    }
    fs.writeFileSync(path.join(shared, 'racer-stop'), '');
    expect(minibox(root, ['wait', 'racer']).stdout.trim()).toBe('0');
    const rounds = Number(fs.readFileSync(path.join(shared, 'racer-rounds'), 'utf8'));
    console.log(`mount race: ${succeeded} of ${VICTIMS} victims started, racer flipped ${rounds} rounds; ` +
      `refusals: ${JSON.stringify([...failures])}`);
    // The racer really raced: it flipped the names many times per victim (each round is four syscalls).
    expect(rounds).toBeGreaterThan(VICTIMS);
    // A victim may lose the race and refuse to start (a one-line error), but never touch the host.
    for (const message of failures.keys()) expect(message).toMatch(/^minibox: .*mount target .* (keeps changing|is not)/);
    // With the racer gone the same targets mount: the refusals above were the race, not a bug.
    for (const name of ['file', 'dir']) fs.rmSync(path.join(shared, name), { recursive: true, force: true });
    const calm = victimRun('sh', '-c', 'cat /shared/file && test -d /shared/dir/sub');
    expect(calm.stderr).toBe('');
    expect(calm.stdout).toBe('mounted\n');
    expect(canaryState()).toBe(before);
  }, 1_800_000);
});
