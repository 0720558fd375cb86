/**
 * Issue 20, bug 4: `rm -f` of a container that a foreground `run --rm` started. Two processes
 * settle the same container: the `run --rm` that sees its exit and the `rm -f` that killed it.
 * Removal and record writes are serialised by the container's lock, and a lock file deleted
 * with its container never lets two holders in at once.
 *
 * How this was checked to fail on main before the fix: the CLI test printed
 * "ENOENT: … container.json.<pid>.tmp" and exit 1 on every iteration (rm -f's own reconcile
 * deleted the --rm container, then rm -f wrote its "removing" record into the deleted dir);
 * the lock test entered the second holder while the first held the new lock file.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withLock } from '../../src/lock.js';
import { tryLock } from '../../src/sys/flock.js';
import { expectNoContainers, expectNoLeaks } from '../helpers/leaks.js';
import { bin } from '../helpers/minibox.js';
import { withWorld, until, type LifecycleWorld } from './helpers.js';

describe('a lock file deleted while others wait for it', () => {
  it('never has two holders: a waiter on the deleted file moves to the new one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-lock-'));
    const file = path.join(dir, 'x.lock');
    const first = fs.openSync(file, 'w+');
    expect(tryLock(first, true, file)).toBe(true); // the first holder: the old inode
    let entered = false;
    const waiter = withLock(dir, 'x', async () => { entered = true; });
    // Descriptors of this process open on `target` (a deleted file reads "<path> (deleted)").
    const fdsOn = (target: string) => fs.readdirSync('/proc/self/fd').filter((fd) => {
      try { return fs.readlinkSync(`/proc/self/fd/${fd}`) === target; } catch { return false; }
    }).length;
    const openOnOld = () => fdsOn(`${file} (deleted)`);
    await until(() => fdsOn(file) >= 2, 'the waiter to open the lock file'); // ours + the waiter's
    fs.unlinkSync(file); // the container is removed: its lock file is forgotten
    const second = fs.openSync(file, 'w+'); // a newcomer locks the fresh file of the same name
    expect(tryLock(second, true, file)).toBe(true);
    fs.closeSync(first); // the old inode is free now: the waiter wins its flock…
    // …and must notice that the name leads elsewhere: it closes the old inode (deterministic:
    // the old file's descriptors are all gone), or — the bug — enters while `second` holds.
    await until(() => entered || openOnOld() === 0, 'the waiter to decide');
    expect(entered).toBe(false);
    fs.closeSync(second);
    await waiter;
    expect(entered).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('rm -f of a container a foreground run --rm started', () => {
  let world: LifecycleWorld;
  withWorld((started) => { world = started; });

  it('prints the name and exits 0, every time (8 iterations)', async () => {
    for (let i = 0; i < 8; i++) {
      const name = `race${i}`;
      const run = spawn(process.execPath, [bin, '--root', world.root, 'run', '--rm', '--network', 'none', '--name', name, world.image, 'sleep', '100'],
        { stdio: ['ignore', 'ignore', 'pipe'] });
      const exited = new Promise<number | null>((resolve) => run.on('exit', resolve));
      await until(() => world.record(name)?.State.Running === true, `${name} to run`);
      const removed = await world.mb(['rm', '-f', name]);
      expect({ i, ...removed }).toEqual({ i, code: 0, stdout: `${name}\n`, stderr: '' });
      expect(await exited).toBe(137);
      expectNoContainers(world.root);
    }
  }, 180_000);
});
