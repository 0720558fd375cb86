/**
 * `minibox events`: the journal each verb and the monitor append to, printed as `docker events`
 * prints it — the built CLI, a real registry, real containers. Waits are conditions with deadlines.
 * Fails on main (checked): `events` was not a minibox command.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bin } from '../helpers/minibox.js';
import { until, withWorld, type LifecycleWorld } from './helpers.js';

let world: LifecycleWorld;

withWorld((started) => { world = started; });

const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) container (\w+) ([0-9a-f]{64}) \((.*)\)$/;

describe('events', () => {
  it('a container\'s life in Docker\'s shape: create, start, die (exitCode), destroy — in order', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const run = await world.mb(['run', '--rm', '--name', 'short', '--network', 'none', world.image, 'sh', '-c', 'exit 3']);
    expect(run.code).toBe(3);
    const result = await world.mb(['events', '--since', since, '--until', '0s', '--filter', 'container=short']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const lines = result.stdout.trim().split('\n').map((line) => LINE.exec(line));
    expect(lines.every(Boolean)).toBe(true);
    expect(lines.map((match) => match![2])).toEqual(['create', 'start', 'die', 'destroy']);
    expect(lines[2]![4]).toBe(`exitCode=3, image=${world.image}, name=short`);
    expect(new Set(lines.map((match) => match![3])).size).toBe(1);
    const times = lines.map((match) => match![1]!);
    expect([...times].sort()).toEqual(times);
  });

  it('filters (event=, type=), --format json and templates; kill, rename and the monitor\'s die', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    expect((await world.mb(['run', '-d', '--name', 'ev', '--network', 'none', world.image, 'sleep', '1000'])).code).toBe(0);
    expect((await world.mb(['rename', 'ev', 'ev2'])).code).toBe(0);
    expect((await world.mb(['kill', 'ev2'])).code).toBe(0);
    const json = await world.mb(['events', '--since', since, '--until', '0s', '-f', 'container=ev2', '--format', 'json']);
    const messages = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as {
      Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; time: number; timeNano: number;
    });
    // container=NAME matches the container's events by id, whatever name they were written with
    expect(messages.map((message) => message.Action)).toEqual(['create', 'start', 'rename', 'kill', 'die']);
    expect(messages[2]!.Actor.Attributes).toMatchObject({ name: 'ev2', oldName: '/ev' });
    expect(messages[3]!.Actor.Attributes.signal).toBe('9');
    expect(messages[4]!.Actor.Attributes.exitCode).toBe('137'); // written by the C monitor
    expect(messages.every((message) => message.Type === 'container' && message.Actor.ID === messages[0]!.Actor.ID)).toBe(true);
    const dies = await world.mb(['events', '--since', since, '--until', '0s', '-f', 'event=die', '-f', 'type=container', '-f', 'container=ev2',
      '--format', '{{.Action}} {{.Actor.Attributes.name}}']);
    expect(dies.stdout).toBe('die ev\n'); // the name the run started with
    expect((await world.mb(['rm', 'ev2'])).code).toBe(0);
  });

  it('follows the journal: events appear as they happen, until Ctrl-C', async () => {
    const since = new Date().toISOString();
    const follower = spawn(process.execPath, [bin, '--root', world.root, 'events', '--since', since, '-f', 'container=live', '--format', '{{.Action}}']);
    let seen = '';
    follower.stdout.on('data', (chunk: Buffer) => { seen += chunk.toString(); });
    try {
      expect((await world.mb(['run', '-d', '--name', 'live', '--network', 'none', world.image, 'sleep', '1000'])).code).toBe(0);
      await until(() => seen.includes('start\n'), 'the follower to print start');
      expect((await world.mb(['stop', '-t', '0', 'live'])).code).toBe(0);
      await until(() => seen.includes('stop\n'), 'the follower to print stop');
      expect(seen).toBe('create\nstart\nkill\ndie\nstop\n');
    } finally {
      follower.kill('SIGINT');
    }
    expect((await world.mb(['rm', 'live'])).code).toBe(0);
  });

  it('bad input: one line, exit 125', async () => {
    for (const args of [['-f', 'nope=1'], ['-f', 'container'], ['--since', 'yesterday-ish']]) {
      const bad = await world.mb(['events', '--until', '0s', ...args]);
      expect(bad.code).toBe(125);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
