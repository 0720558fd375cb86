/**
 * leaks.ts — after a test: nothing of minibox's may be left running, mounted or half-written.
 *
 * `expectNoLeaks(root, extraDirs)` checks that
 *   - no mount point in /proc/self/mountinfo lies under the state root or the extra dirs,
 *   - no process has its cwd or root under the state root (a container that outlived its run),
 *   - `<root>/tmp` holds no leftover download or unpack directories,
 *   - no process mentions the state root on its command line (a minibox-monitor or init stage
 *     of a container that should be gone).
 * `expectNoContainers(root)` additionally checks that no container directory is left.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';

function under(file: string, dir: string): boolean {
  const prefix = path.resolve(dir);
  return file === prefix || file.startsWith(`${prefix}/`);
}

export function mountsUnder(dirs: string[]): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4])
    .filter((target): target is string => target !== undefined)
    .map((target) => target.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((target) => dirs.some((dir) => under(target, dir)));
}

export function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    for (const link of ['cwd', 'root']) {
      try {
        const target = fs.readlinkSync(`/proc/${pid}/${link}`);
        if (under(target, dir)) found.push(`${pid} (${link} ${target})`);
      } catch { /* exited, or a kernel thread */ }
    }
  }
  return found;
}

/** Processes (other than this one) whose command line mentions `dir`: monitors, init stages. */
export function processesMentioning(dir: string): string[] {
  const prefix = path.resolve(dir);
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid) continue;
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.some((arg) => under(arg, prefix))) found.push(`${pid} (${args.join(' ').trim()})`);
    } catch { /* exited */ }
  }
  return found;
}

export function expectNoLeaks(root: string, extraDirs: string[] = []): void {
  expect(mountsUnder([root, ...extraDirs]), 'mounts left behind').toEqual([]);
  expect(processesUnder(root), 'processes left behind').toEqual([]);
  expect(processesMentioning(root), 'processes left behind').toEqual([]);
  const tmp = path.join(root, 'tmp');
  expect(fs.existsSync(tmp) ? fs.readdirSync(tmp) : [], `leftovers in ${tmp}`).toEqual([]);
}

/** No container directory is left under the state root (after everything was removed). */
export function expectNoContainers(root: string): void {
  const dir = path.join(root, 'containers');
  expect(fs.existsSync(dir) ? fs.readdirSync(dir) : [], 'container dirs left behind').toEqual([]);
}
