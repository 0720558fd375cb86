/**
 * Runs INSIDE the test VM (cgroup v2): `pause`/`unpause` through the container's cgroup.freeze,
 * with the `minibox` command and the busybox image in /minibox-store (see run-limits.test.ts).
 * The proof is the kernel's: cgroup.events says `frozen 1`, and a counter the container writes
 * does not move while it is frozen (read twice around a wait for the *kernel's* frozen flag, never
 * "wait N ms and see"). Fails on main (checked): `pause` was not a minibox command.
 * Takes ~3 minutes under the VM's TCG emulation: each of its ~20 CLI calls boots Node on an
 * emulated CPU (5–8 s each); every call proves something Docker users rely on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MINIBOX_CGROUP_PARENT, parseKeyedFile } from '../../src/cgroups/index.js';
import { until, withStoreCopy } from './vm-helpers.js';

const vm = withStoreCopy('mb-vm-pause-');
const minibox = vm.minibox;
const IMAGE = 'busybox';

function frozen(id: string): number | undefined {
  return parseKeyedFile(fs.readFileSync(`/sys/fs/cgroup/${MINIBOX_CGROUP_PARENT}/${id}/cgroup.events`, 'utf8')).get('frozen');
}

describe('pause and unpause (cgroup v2 freezer)', () => {
  it('freezes every process in place, ps says (Paused), exec is refused, unpause lets it go on', async () => {
    const counter = path.join(vm.root, 'counter');
    fs.mkdirSync(counter);
    const run = minibox(['run', '-d', '--network', 'host', '--pull', 'never', '--name', 'pz', '-v', `${counter}:/out`, IMAGE,
      'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /out/n.tmp; mv /out/n.tmp /out/n; done']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const id = run.stdout.trim();
    const count = () => Number(fs.readFileSync(path.join(counter, 'n'), 'utf8'));
    await until(() => fs.existsSync(path.join(counter, 'n')) && count() > 10, 'the counter to run');

    const paused = minibox(['pause', '--explain=all', 'pz']);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toBe('pz\n');
    expect(paused.stderr).toMatch(/write 1 to cgroup\.freeze/);
    expect(paused.stderr).toMatch(/frozen 1/);
    expect(frozen(id)).toBe(1);
    const held = count();
    // The kernel said every task is parked: the counter cannot move, whatever the wait.
    await until(() => frozen(id) === 1 && count() === held, 'the frozen counter');
    expect(minibox(['ps', '--filter', 'name=^pz$', '--format', '{{.Status}}|{{.State}}']).stdout).toMatch(/^Up .* \(Paused\)\|paused\n$/);
    expect(minibox(['inspect', '--format', '{{.State.Status}} {{.State.Paused}}', 'pz']).stdout).toBe('paused true\n');
    const exec = minibox(['exec', 'pz', 'true']);
    expect(exec.code).toBe(1);
    expect(exec.stderr).toMatch(/is paused, unpause the container before exec/);
    const again = minibox(['pause', 'pz']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is already paused/);
    expect(count()).toBe(held);

    expect(minibox(['unpause', 'pz'])).toMatchObject({ code: 0, stdout: 'pz\n' });
    expect(frozen(id)).toBe(0);
    await until(() => count() > held, 'the counter to go on after unpause');
    const notPaused = minibox(['unpause', 'pz']);
    expect(notPaused.code).toBe(1);
    expect(notPaused.stderr).toMatch(/is not paused/);
    const events = minibox(['events', '--since', '10m', '--until', '0s', '-f', 'container=pz', '-f', 'event=pause', '-f', 'event=unpause', '--format', '{{.Action}}']);
    expect(events.stdout).toBe('pause\nunpause\n');
    expect(minibox(['rm', '-f', 'pz']).code).toBe(0);
  });

  it('stop of a paused container thaws it after the signal, as Docker does; rm needs -f', async () => {
    const run = minibox(['run', '-d', '--network', 'host', '--pull', 'never', '--name', 'ps', '--init', IMAGE, 'sleep', '1000']);
    expect(run.code).toBe(0);
    expect(minibox(['pause', 'ps']).code).toBe(0);
    const rm = minibox(['rm', 'ps']);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toMatch(/container is paused/);
    // --init forwards SIGTERM to sleep, which dies of it: only possible once thawed.
    const stop = minibox(['stop', '-t', '60', 'ps']);
    expect(stop.code).toBe(0);
    expect(minibox(['inspect', '--format', '{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}', 'ps']).stdout).toBe('exited false 143\n');
    expect(minibox(['rm', 'ps']).code).toBe(0);
  });
});
