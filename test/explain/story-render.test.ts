/**
 * The story's layout rules on made-up events (a unit test beside the real runs of story.test.ts):
 * long paths named once, no line over 100 columns whatever the words, a failed kernel call said
 * as failed, a failing probe (bookkeeping) left out, and a start told at its execve.
 */
import { describe, expect, it } from 'vitest';
import { createStory } from '../../src/explain/story.js';
import type { SysEvent } from '../../src/sys/trace.js';

const ctr = `/var/lib/minibox-with-a-rather-long-state-root/containers/${'ab'.repeat(32)}`;
let clock = 1_000;
const event = (call: string, args: Record<string, unknown>, extra: Partial<SysEvent> = {}): SysEvent => ({
  kind: 'syscall', call, args, result: 0, ms: 1, pid: 1, time: (clock += 5), ...extra,
});

function tell(events: SysEvent[]): string[] {
  const lines: string[] = [];
  const story = createStory((line) => lines.push(line), { subject: 'this run' });
  for (const e of events) story.event(e);
  story.tell();
  return lines;
}

describe('the story\'s layout', () => {
  it('names a container directory once, keeps every line within 100 columns, tells failures', () => {
    const lines = tell([
      event('mount', { source: 'overlay', target: `${ctr}/rootfs`, fstype: 'overlay', flags: 'MS_NODEV',
        data: `lowerdir=/l/${'1'.repeat(64)}:/l/${'2'.repeat(64)},upperdir=${ctr}/upper,workdir=${ctr}/work` }),
      ...['hosts', 'hostname', 'resolv.conf'].map((name) => event('move_mount', { source: `${ctr}/${name}`, target: `/etc/${name}` })),
      ...Array.from({ length: 20 }, (_, i) => event('move_mount', { source: `${ctr}/volume-${i}-with-a-long-name`, target: `/data/${i}` })),
      event('openat2', { path: 'proc/missing' }, { result: -1, error: 'ENOENT' }),
      event('pivot_root', { newRoot: '.', putOld: '.' }, { result: -1, error: 'EINVAL' }),
    ]);
    const text = lines.join('\n');
    expect(text.split(ctr).length - 1).toBe(0);
    expect(text.match(/\/containers\//g)?.length).toBe(1);
    // A legend too long for one line wraps, like every line.
    expect(`${lines[0]} ${lines[1]?.trim()}`).toMatch(/^the story of this run \(\d+ ms\); <ctr> = \/var\/lib\/minibox-with-a-rather-long-state-root\/containers\/abab…abab$/);
    for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(100);
    expect(text).toMatch(/2 image layers \(read-only\) \+ a writable layer \(copy-on-write\) = <ctr>\/rootfs/);
    expect(text).toMatch(/lowerdir=111111111111:222222222222/);
    expect(text).toMatch(/binds: \/etc\/\{hosts,hostname,resolv\.conf\}/);
    expect(text).toMatch(/bind mounts: \/data\/0 ← <ctr>\/volume-0-with-a-long-name/);
    expect(text).toMatch(/the overlay is now \/ — FAILED: pivot_root EINVAL/);
    expect(text).not.toMatch(/openat2|ENOENT/);
  });

  it('tells a start at its execve, and what follows as a second story', () => {
    const lines: string[] = [];
    const story = createStory((line) => lines.push(line), { subject: 'this run' });
    story.event(event('unshare', { flags: 'CLONE_NEWNS|CLONE_NEWUTS' }));
    story.event(event('execve', { path: '/bin/true' }, { kind: 'step' }));
    expect(lines[0]).toMatch(/^the story of this run/);
    expect(lines).toContain('  MNT UTS: its own mounts, hostname  · unshare(CLONE_NEW{NS,UTS})');
    expect(lines.at(-1)).toMatch(/^ {2}\/bin\/true replaces Node +· execve$/);
    const told = lines.length;
    story.event(event('umount2', { target: `${ctr}/rootfs`, flags: 'MNT_DETACH' }));
    story.tell();
    expect(lines[told]).toMatch(/^the story of what followed/);
    expect(lines.slice(told).join('\n')).toMatch(/<ctr>\/rootfs unmounted/);
  });

  it('a cgroup v2 host: the cgroup in one line, each limit in its own (what `update --explain` prints too)', () => {
    const dir = `/sys/fs/cgroup/minibox/${'cd'.repeat(32)}`;
    const step = (call: string, args: Record<string, unknown>): SysEvent => event(call, args, { kind: 'step', ms: 0 });
    const lines = tell([
      step('cgroup.create', { dir: '/sys/fs/cgroup/minibox', meaning: 'a cgroup that holds every minibox container' }),
      step('cgroup.write', { file: '/sys/fs/cgroup/minibox/cgroup.subtree_control', value: '+memory +pids', meaning: '' }),
      step('cgroup.create', { dir, meaning: 'the cgroup of container cdcd' }),
      step('cgroup.write', { file: `${dir}/memory.max`, value: '268435456', meaning: 'the kernel will reclaim, then OOM-kill, beyond 256 MiB' }),
      step('cgroup.write', { file: `${dir}/cgroup.procs`, value: '4242', meaning: '' }),
    ]);
    expect(lines.slice(1)).toEqual([
      '3 cgroups: limits on memory, CPU and processes (0 ms)',
      '  its own cgroup, controllers memory pids; process 4242 moved in  · mkdir minibox/cdcdcdcdcdcd, …',
      '  the kernel will reclaim, then OOM-kill, beyond 256 MiB  · memory.max = 268435456',
    ]);
  });
});
