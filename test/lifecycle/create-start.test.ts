/**
 * `create` + `start`: Docker's two-step — the built CLI, a real registry, real namespaces.
 * Fails on main (checked): `create` was not a minibox command ("'create' is not a minibox command").
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoContainers, expectNoLeaks } from '../helpers/leaks.js';
import { StateRoot } from '../../src/state-root.js';
import { waitContainer } from '../../src/lifecycle/stop.js';
import { withWorld, type LifecycleWorld } from './helpers.js';

let world: LifecycleWorld;
withWorld((started) => { world = started; });

describe('create then start', () => {
  it('create prints the id and leaves the container Created; start -a prints output and returns its code', async () => {
    const created = await world.mb(['create', '--name', 'job', '--network', 'none', '-e', 'WHO=world', world.image,
      'sh', '-c', 'echo hello $WHO; echo oops >&2; exit 3']);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const id = created.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = await world.mb(['ps', '-a', '--filter', 'name=^job$', '--format', '{{.Status}}']);
    expect(ps.stdout).toBe('Created\n');
    expect((await world.mb(['ps', '-q'])).stdout).toBe(''); // not running
    expect(world.record('job')?.State.Status).toBe('created');

    const started = await world.mb(['start', '-a', 'job']);
    expect(started.stdout).toBe('hello world\n');
    expect(started.stderr).toBe('oops\n');
    expect(started.code).toBe(3);
    const after = await world.mb(['ps', '-a', '--filter', 'name=^job$', '--format', '{{.Status}}']);
    expect(after.stdout).toMatch(/^Exited \(3\) /);
    expect((await world.mb(['rm', 'job'])).code).toBe(0);
  });

  it('create -i + start -ai gives the container this stdin', async () => {
    expect((await world.mb(['create', '-i', '--name', 'cat', '--network', 'none', world.image, 'cat'])).code).toBe(0);
    const started = await world.mb(['start', '-ai', 'cat'], { input: 'piped\n' });
    expect(started).toMatchObject({ code: 0, stdout: 'piped\n' });
    expect((await world.mb(['rm', 'cat'])).code).toBe(0);
  });

  it('bad input: a bad flag fails before anything is made (125), a taken name too', async () => {
    const bad = await world.mb(['create', '--network', 'none', '--memory', 'lots', world.image, 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect((await world.mb(['create', '--name', 'twice', '--network', 'none', world.image, 'true'])).code).toBe(0);
    const again = await world.mb(['create', '--name', 'twice', '--network', 'none', world.image, 'true']);
    expect(again.code).toBe(125);
    expect(again.stderr).toMatch(/twice/);
    expect((await world.mb(['ps', '-aq'])).stdout.trim().split('\n')).toHaveLength(1);
    expect((await world.mb(['rm', 'twice'])).code).toBe(0);
    const missing = await world.mb(['start', 'nope']);
    expect(missing).toMatchObject({ code: 1, stderr: 'minibox: No such container: nope\n' });
  });
});

describe('rename and wait --condition', () => {
  // Fails on main (checked): `rename` was not a command and `wait` had no --condition.
  it('rename keeps the id; a taken, same or bad name and a missing container exit 1', async () => {
    const id = (await world.mb(['create', '--name', 'old', '--network', 'none', world.image, 'true'])).stdout.trim();
    expect((await world.mb(['create', '--name', 'other', '--network', 'none', world.image, 'true'])).code).toBe(0);
    expect(await world.mb(['rename', 'old', 'new'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(world.record('new')?.Id).toBe(id);
    expect(world.record('old')).toBeUndefined();
    const taken = await world.mb(['rename', 'new', 'other']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^minibox: Conflict\. The container name "\/other" is already in use by container "[0-9a-f]{64}"\./);
    expect((await world.mb(['rename', 'new', 'new'])).stderr).toBe('minibox: Renaming a container with the same name as its current name\n');
    expect((await world.mb(['rename', 'new', 'bad name!'])).code).toBe(1);
    expect(await world.mb(['rename', 'gone', 'x'])).toMatchObject({ code: 1, stderr: 'minibox: No such container: gone\n' });
    expect((await world.mb(['rm', 'new', 'other'])).code).toBe(0);
  });

  it('not-running returns at once for a created container; next-exit waits for its run; removed for rm', async () => {
    expect((await world.mb(['create', '--name', 'waited', '--network', 'none', world.image, 'sh', '-c', 'exit 4'])).code).toBe(0);
    expect(await world.mb(['wait', 'waited'])).toMatchObject({ code: 0, stdout: '0\n' });
    // In-process waiters, so that the test knows they have seen the Created container (onPoll)
    // before it starts: with `exit 4` at once, a waiter that first looked after the exit would
    // take that exit as the "previous" one.
    const id = world.record('waited')!.Id;
    const root = new StateRoot(world.root);
    let seen = 0;
    let bothSeen!: () => void;
    const ready = new Promise<void>((resolve) => { bothSeen = resolve; });
    const firstLook = () => { let once = false; return () => { if (!once) { once = true; if (++seen === 2) bothSeen(); } }; };
    const nextExit = waitContainer(root, id, 'next-exit', firstLook());
    const removed = waitContainer(root, id, 'removed', firstLook());
    await ready;
    expect((await world.mb(['start', 'waited'])).code).toBe(0);
    expect(await nextExit).toBe(4);
    expect(await world.mb(['wait', '--condition', 'not-running', 'waited'])).toMatchObject({ code: 0, stdout: '4\n' });
    expect((await world.mb(['rm', 'waited'])).code).toBe(0);
    expect(await removed).toBe(4);
    expect(await world.mb(['wait', '--condition', 'removed', 'waited'])).toMatchObject({ code: 1, stderr: 'minibox: No such container: waited\n' });
    const bad = await world.mb(['wait', '--condition', 'soon', 'x']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/invalid --condition soon: use not-running, next-exit, removed/);
  });
});
