/**
 * `create` + `start`: Docker's two-step — the built CLI, a real registry, real namespaces.
 * Fails on main (checked): `create` was not a minibox command ("'create' is not a minibox command").
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoContainers, expectNoLeaks } from '../helpers/leaks.js';
import { startWorld, type LifecycleWorld } from './helpers.js';

let world: LifecycleWorld;

beforeAll(async () => { world = await startWorld(); });
afterAll(async () => {
  await world?.close();
  expectNoLeaks(world.root);
  expectNoContainers(world.root);
  fs.rmSync(world.root, { recursive: true, force: true });
});

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
