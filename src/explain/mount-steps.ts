/**
 * mount-steps.ts — the story's lines for chapter 5, the file system: how the image layers and a
 * writable layer become the container's `/`.
 *
 * The overlay (lowerdir = the image layers, upperdir = the writable layer, workdir = overlayfs's
 * scratch), the kernel file systems mounted on fds that openat2 resolved inside the rootfs, the
 * files bound in (minibox's /etc files, the host's device nodes, volumes), pivot_root, and the
 * kernel files hidden or made read-only — each kind one line, whatever the number of mounts.
 *
 * Try: `minibox run --rm --explain busybox true 2>&1 | grep 'image layer'` → `1 image layer
 * (read-only) + a writable layer (copy-on-write) = <ctr>/rootfs`
 */
import path from 'node:path';
import type { SysEvent } from '../sys/trace.js';
import { list, single, str, type StoryStep } from './story-line.js';

/** Mount targets the engine writes for every container (etc-files.ts). */
const ETC_FILES = new Set(['/etc/resolv.conf', '/etc/hostname', '/etc/hosts']);


function mountStep(a: Record<string, unknown>): StoryStep | undefined {
  const flags = str(a.flags ?? '').split('|');
  const target = str(a.target);
  if (a.fstype === 'overlay') {
    const data = str(a.data);
    const field = (name: string): string => new RegExp(`${name}=([^,]*)`).exec(data)?.[1] ?? '';
    const layers = field('lowerdir').split(':').filter(Boolean).length;
    const upper = field('upperdir');
    const lower = field('lowerdir').split(':').map((dir) => path.basename(dir).slice(0, 12)).join(':');
    const volatile = data.split(',').includes('volatile') ? ', volatile' : '';
    return single('overlay', `${layers} image layer${layers === 1 ? '' : 's'} (read-only) + ${upper ? 'a writable layer (copy-on-write)' : 'no writable layer'} = ${target}`,
      'mount -t overlay', `lowerdir=${lower} (layers/, top first)${upper ? `, upperdir=${upper}, workdir=${field('workdir')}${volatile}` : ''}`);
  }
  if (flags.includes('MS_PRIVATE') && !flags.includes('MS_BIND')) {
    return single(`private:${target}`, `mounts under ${target} stay in its MNT namespace`, `mount --make-${flags.includes('MS_REC') ? 'r' : ''}private ${target}`);
  }
  const shown = a.shownAs !== undefined ? str(a.shownAs) : target;
  if (a.fstype === 'tmpfs' && flags.includes('MS_RDONLY')) return maskStep(shown, 'tmpfs');
  if (flags.includes('MS_REMOUNT') && flags.includes('MS_RDONLY')) return single(`ro:${shown}`, `${shown} read-only: writes fail with EROFS`, 'mount -o remount,ro');
  if (flags.includes('MS_BIND')) {
    return list('binds', `${str(a.source)}:${shown}`, (items) => `bind mounts: ${items.map((i) => i.split(':').reverse().join(' ← ')).join(', ')}`, (items) => `mount --bind ×${items.length}`);
  }
  if (a.shownAs !== undefined) {
    return list('kernel-fs', shown, (items) => `kernel file systems: ${items.join(' ')}`, (items) => `mount ×${items.length}`);
  }
  return single(`mount:${target}`, `${str(a.fstype)} mounted on ${target}`, 'mount');
}

/** The kernel files a container must not read or write: hidden (masked) or read-only — one line. */
function defendedStep(item: string): StoryStep {
  return {
    key: 'defended', item,
    render: (items) => {
      const hidden = items.filter((i) => i.startsWith('hide:')).map((i) => i.slice(5));
      const readOnly = [...new Set(items.filter((i) => i.startsWith('ro:')).map((i) => i.slice(3)))];
      const parts = [hidden.length ? `hidden ${braces(hidden)}` : '', readOnly.length ? `read-only ${braces(readOnly)}` : ''];
      return { words: parts.filter(Boolean).join('; '), call: 'tmpfs, /dev/null, mount_setattr' };
    },
  };
}

/** `/proc/a /proc/b /sys/c` → `/proc/{a,b}, /sys/c`: one parent said once. */
export function braces(paths: string[]): string {
  const byParent = new Map<string, string[]>();
  for (const p of paths) byParent.set(path.dirname(p), [...(byParent.get(path.dirname(p)) ?? []), path.basename(p)]);
  const prefix = (parent: string): string => (parent === '/' ? '/' : `${parent}/`);
  return [...byParent].map(([parent, names]) => (names.length > 1 ? `${prefix(parent)}{${names.join(',')}}` : `${prefix(parent)}${names[0]}`)).join(', ');
}

function maskStep(target: string, _how: string): StoryStep {
  return defendedStep(`hide:${target}`);
}

export function fileSystemStep(event: SysEvent): StoryStep | undefined {
  const a = event.args;
  switch (event.call) {
    case 'mount': return mountStep(a);
    case 'mount_setattr': {
      const target = str(a.target);
      if (ETC_FILES.has(target)) return boundStep('');
      if (str(a.set).includes('MOUNT_ATTR_RDONLY')) return readOnlyStep(target);
      return single(`setattr:${target}`, `mount attributes of ${target}: ${str(a.set)}`, 'mount_setattr');
    }
    case 'move_mount': {
      const source = str(a.source);
      const target = str(a.target);
      if (ETC_FILES.has(target)) return boundStep(target);
      if (source.startsWith('/dev/') && source === target) {
        return boundStep(`dev:${path.basename(source)}`);
      }
      if (source === '/dev/null') return maskStep(target, 'null');
      if (source === target) return readOnlyStep(target);
      return list('binds', `${source}:${target}`, (items) => `bind mounts: ${items.map((i) => i.split(':').reverse().join(' ← ')).join(', ')}`, (items) => `open_tree + move_mount ×${items.length}`);
    }
    case 'mknod': return list('mknod', str(a.path), (items) => `device nodes made: ${items.join(' ')}`, (items) => `mknod ×${items.length}`);
    case 'pivot_root': return pivotStep('pivot');
    case 'chroot': return single('chroot', 'the rootfs is now / for this process only (chroot: minibox-runc --no-pivot, or no mount namespace)', 'chroot(".")');
    case 'umount2':
      if (a.target === '.') return pivotStep('detach');
      return single(`umount:${str(a.target)}`, `${str(a.target)} unmounted`, `umount2(${str(a.flags)})`);
    case 'container.files': return single('container-files', 'its directory deleted, and the writable layer (upper/) with it', `rm -r ${str(a.dir)}`);
    default: return undefined;
  }
}

/** A path made read-only with all below it: mount_setattr on a detached tree, then move_mount (both add the path once). */
function readOnlyStep(target: string): StoryStep {
  return defendedStep(`ro:${target}`);
}

/** Files bound in from the host: minibox's /etc files and the host's device nodes, one line. */
function boundStep(item: string): StoryStep {
  return {
    key: 'bound', item,
    render: (items) => {
      const etc = items.filter((i) => i.startsWith('/etc/')).map((i) => i.slice(5));
      const devices = items.filter((i) => i.startsWith('dev:')).map((i) => i.slice(4));
      const parts = [etc.length ? `/etc/{${etc.join(',')}}` : '', devices.length ? `/dev/{${devices.join(',')}}` : ''];
      return { words: `binds: ${parts.filter(Boolean).join(' ')}`, call: `move_mount ×${etc.length + devices.length}` };
    },
  };
}


function pivotStep(item: string): StoryStep {
  return {
    key: 'pivot', item,
    render: (items) => ({
      words: `the overlay is now /${items.includes('detach') ? '; the host\'s old root is detached' : ''}`,
      call: `pivot_root(".", ".")${items.includes('detach') ? ', umount2(".", MNT_DETACH)' : ''}`,
    }),
  };
}
