import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { runInBusybox } from '../helpers/containers.js';
import type { SysEvent } from '../../src/sys/trace.js';

describe('--explain and --trace tell the story of a container\'s start', () => {
  test('the narration covers every step, in the kernel\'s order', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await runInBusybox('true', { explain: 'all' });
    } finally {
      spy.mockRestore();
    }
    const story = lines.join('');
    const steps = [
      /unshare\(CLONE_NEWPID\): the next process/,
      /setns\(CLONE_NEWPID\): the engine goes back/,
      /unshare\(CLONE_NEWNS\|CLONE_NEWUTS\|CLONE_NEWIPC\|CLONE_NEWNET\): this process now has its own mount table, hostname/,
      /namespaces ready/,
      /unshare\(CLONE_NEWCGROUP\): this process now has its own view of the cgroup tree, rooted at the cgroup it is in now/,
      /mount --make-rprivate \//,
      /mount overlay on .*rootfs: lower = 1 image layer \(read-only\), upper = this container's writable layer/,
      /mount proc on \/proc: `ps` inside now sees only the container's processes; via \/proc\/self\/fd\/\d+, onto the fd openat2\(RESOLVE_IN_ROOT\)/,
      /mount devpts on .*\/dev\/pts/,
      /devices \/dev\/null, \/dev\/zero, .*: the host's own nodes, bind-mounted onto files made inside \/dev's fd; \/dev and every other writable mount is nodev/,
      /pivot_root: \/ is now the image/,
      /detach the host's old root/,
      /mask \/proc\/keys: \/dev\/null \(checked to be char 1:3/,
      /mount_setattr \/proc\/sys: read-only, .* on every mount of the tree \(AT_RECURSIVE/,
      /bind \/proc\/sys onto itself, read-only with everything below it/,
      /sethostname\("testbox"\)/,
      /PR_CAPBSET_DROP\) ×27: .*CAP_SYS_ADMIN/,
      // fds and signals before the privileges and the filter: a config's profile may deny close_range
      /close_range\(3, ~0, CLOEXEC\)/,
      /setresuid\(0\)/,
      /capset: keeping Docker's 14 default capabilities/,
      /PR_SET_NO_NEW_PRIVS/,
      /execve \/bin\/sh: Node is replaced by the container's program/,
    ];
    let from = 0;
    for (const step of steps) {
      const match = step.exec(story.slice(from));
      expect(match, `${step} after position ${from} in:\n${story}`).not.toBeNull();
      from += (match?.index ?? 0) + (match?.[0].length ?? 0);
    }
  });

  test('the trace file holds the engine\'s and the init stage\'s kernel calls as JSON lines', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-trace-'));
    try {
      const traceFile = path.join(dir, 'trace.jsonl');
      const run = await runInBusybox('true', { traceFile });
      const events = fs.readFileSync(traceFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as SysEvent);
      const pids = new Set(events.map((event) => event.pid));
      expect(pids).toEqual(new Set([process.pid, run.pid]));
      const calls = events.map((event) => event.call);
      expect(calls.indexOf('unshare')).toBeLessThan(calls.indexOf('pivot_root'));
      expect(calls.indexOf('pivot_root')).toBeLessThan(calls.indexOf('capset'));
      expect(calls.at(-1)).toBe('execve');
      expect(events.find((event) => event.call === 'pivot_root')?.args).toEqual({ newRoot: '.', putOld: '.' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
