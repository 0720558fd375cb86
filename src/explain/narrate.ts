/**
 * narrate.ts — `minibox run --explain`: each kernel call of a container's start, in plain words.
 *
 * The engine and the init stage publish a SysEvent for every kernel call (src/sys/call.ts);
 * the init stage forwards its events to the engine before it execs. The narrator turns each into
 * a sentence a student can follow, decoding flags into what they *do* ("own mount table",
 * "read-only"), and each cgroup file write into what the kernel will do with the value
 * ("write 268435456 to memory.max: the kernel will reclaim, then OOM-kill, beyond 256 MiB").
 * Runs of similar calls (27 capabilities dropped one by one) become one sentence.
 *
 * Try: `minibox run --rm --explain=all busybox true 2>&1 | grep pivot_root` → `pivot_root: / is now the
 * image`
 */
import path from 'node:path';
import type { SysEvent } from '../sys/trace.js';
import { DEFAULT_CAPABILITIES } from '../bundle/docker-defaults.js';
import { describeNetworkStep } from '../network/explain.js';
import { describePushStep } from '../image/registry/upload.js';

const NAMESPACE_WORDS: Record<string, string> = {
  CLONE_NEWNS: 'mount table', CLONE_NEWUTS: 'hostname', CLONE_NEWIPC: 'IPC objects (shared memory, message queues)',
  CLONE_NEWNET: 'network stack (interfaces, routes, ports)', CLONE_NEWCGROUP: 'view of the cgroup tree',
  CLONE_NEWPID: 'process numbers', CLONE_NEWUSER: 'user ids',
};

const FS_WORDS: Record<string, string> = {
  proc: '`ps` inside now sees only the container\'s processes',
  tmpfs: 'an empty file system in memory',
  devpts: 'the container\'s own pseudo-terminals (ptys opened here stay invisible to the host)',
  sysfs: 'the kernel\'s device tree, read-only',
  mqueue: 'POSIX message queues of this IPC namespace',
  cgroup2: 'the cgroup tree, read-only',
};

/** How every stage starts (native/minibox-launch.c), said once per stage. */
const LAUNCHED = 'minibox-launch made it non-dumpable and runs node from a read-only, detached bind mount, so the container cannot write the host\'s node through /proc/PID/exe';
/** The same for the C exec stage (native/minibox-exec.c). */
const LAUNCHED_EXEC = 'minibox-launch made it non-dumpable and runs minibox-exec (a small C program: no Node to boot) from a read-only, detached bind mount, so the container cannot write it through /proc/PID/exe';

function str(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Said of a mount made onto an fd that openat2 resolved inside the root (runtime/rootfs/mount-target.ts). */
const VIA_FD = 'onto the fd openat2(RESOLVE_IN_ROOT) found inside the rootfs, which no symlink swap can redirect (runc CVE-2021-30465)';

function describeMount(args: Record<string, unknown>): string {
  const flags = str(args.flags ?? '');
  if (args.shownAs !== undefined) {
    const what = FS_WORDS[str(args.fstype)];
    const masking = args.fstype === 'tmpfs' && flags.split('|').includes('MS_RDONLY');
    return masking
      ? `mask ${str(args.shownAs)}: an empty read-only tmpfs hides the directory (mounted ${VIA_FD})`
      : `mount ${str(args.fstype)} on ${str(args.shownAs)}${what ? `: ${what}` : ''}${args.data ? ` (${str(args.data)})` : ''}; via ${str(args.target)}, ${VIA_FD}`;
  }
  const target = str(args.target);
  const has = (flag: string): boolean => flags.split('|').includes(flag);
  if (has('MS_PRIVATE') && !has('MS_BIND')) {
    return `mount --make-${has('MS_REC') ? 'r' : ''}private ${target}: mounts made from now on stay in this namespace and never reach the host`;
  }
  if (has('MS_SLAVE') || has('MS_SHARED')) return `change propagation of ${target} (${flags})`;
  if (args.fstype === 'overlay') {
    const data = str(args.data);
    const lower = /lowerdir=([^,]*)/.exec(data)?.[1]?.split(':').length ?? 0;
    const volatile = data.split(',').includes('volatile') ? ', volatile: never synced, it is deleted with the container (--rm)' : '';
    const writable = data.includes('upperdir=') ? `upper = this container's writable layer (copy-on-write)${volatile}` : 'no upper dir: read-only';
    return `mount overlay on ${target}: lower = ${lower} image layer${lower === 1 ? '' : 's'} (read-only), ${writable}`;
  }
  if (has('MS_REMOUNT')) {
    return `remount ${target}${has('MS_RDONLY') ? ' read-only: writes now fail with EROFS' : ` with ${flags}`}`;
  }
  if (has('MS_BIND')) {
    if (args.source === '/dev/null') return `mask ${target}: /dev/null is bound over it, reading it gives nothing`;
    if (args.source === target) return `bind ${target} onto itself${has('MS_REC') ? ' (with everything mounted below)' : ''}, so it can be changed on its own`;
    return `bind ${str(args.source)} at ${target}: the same files, visible in a second place`;
  }
  if (args.fstype === 'tmpfs' && has('MS_RDONLY')) return `mask ${target}: an empty read-only tmpfs hides the directory`;
  const what = FS_WORDS[str(args.fstype)];
  return `mount ${str(args.fstype)} on ${target}${what ? `: ${what}` : ''}${args.data ? ` (${str(args.data)})` : ''}`;
}

const ATTRIBUTE_WORDS: Record<string, string> = {
  MOUNT_ATTR_RDONLY: 'read-only', MOUNT_ATTR_NOSUID: 'nosuid', MOUNT_ATTR_NODEV: 'nodev (device nodes cannot be opened)',
  MOUNT_ATTR_NOEXEC: 'noexec',
};

/** open_tree → mount_setattr → move_mount: a bind mount made of fds (mount-target.ts). */
function describeFdMount(call: string, a: Record<string, unknown>): string | undefined {
  if (call === 'mount_setattr') {
    const set = str(a.set).split('|').filter((name) => name !== '0').map((name) => ATTRIBUTE_WORDS[name] ?? name);
    const propagation = a.propagation ? `${set.length ? ', ' : ''}propagation ${str(a.propagation)}` : '';
    return `mount_setattr ${str(a.target)}: ${set.join(', ')}${propagation} on ${a.recursive ? 'every mount of the tree (AT_RECURSIVE: submounts too, which a remount would miss)' : 'the mount'}`;
  }
  if (call !== 'move_mount') return undefined;
  if (a.source === '/dev/null') return `mask ${str(a.target)}: /dev/null (checked to be char 1:3, runc CVE-2025-31133) is bound over it, reading it gives nothing`;
  if (a.source === a.target) return `bind ${str(a.target)} onto itself, read-only with everything below it (flags set before it was attached)`;
  return `bind ${str(a.source)} at ${str(a.target)}: open_tree cloned it, its flags were set while detached, move_mount attached it ${VIA_FD}`;
}

/** One event → one sentence, or undefined when the event is part of a run being collected. */
export function describeEvent(event: SysEvent): string | undefined {
  const a = event.args;
  switch (event.call) {
    case 'unshare': {
      const names = str(a.flags).split('|');
      if (names.length === 1 && names[0] === 'CLONE_NEWPID') {
        return 'unshare(CLONE_NEWPID): the next process the engine starts will be PID 1 of a new PID namespace';
      }
      if (names.length === 1 && names[0] === 'CLONE_NEWCGROUP') {
        return 'unshare(CLONE_NEWCGROUP): this process now has its own view of the cgroup tree, rooted at the cgroup it is in now (its /proc/self/cgroup reads 0::/)';
      }
      return `unshare(${str(a.flags)}): this process now has its own ${names.map((n) => NAMESPACE_WORDS[n] ?? n).join(', ')}`;
    }
    case 'setns':
      if (str(a.what).includes('the engine\'s own')) return `setns(${str(a.nstype)}): the engine goes back to the host's namespace, its later children stay on the host`;
      return `setns(${str(a.nstype)}) into ${str(a.what)}: ${a.nstype === 'CLONE_NEWPID' ? 'the next process started joins the container\'s PID namespace' : 'this process joins the container\'s namespace'}`;
    case 'spawn-init': return `started the init stage (host pid ${str(a.pid)}): it is PID 1 inside the new PID namespace; ${LAUNCHED}`;
    case 'spawn-exec': return `started the exec stage (host pid ${str(a.pid)}) inside the container's PID namespace; ${LAUNCHED_EXEC}`;
    case 'pipe2': return 'pipe2: a pipe for the container\'s stdin, stdout or stderr — it never gets minibox\'s own files, which /proc/self/fd would let it reopen';
    case 'monitor-pty': return `minibox-monitor opened the container's /dev/pts/ptmx and holds the master of pty ${str(a.number)}: it outlives this command, logs what the program prints, and serves \`minibox attach\` on ${str(a.socket)}`;
    case 'namespaces-ready': return 'namespaces ready: the engine may now put the container in cgroups and wire its network';
    case 'mount': return describeMount(a);
    case 'mount_setattr': case 'move_mount': return describeFdMount(event.call, a);
    case 'umount2': return a.target === '.' ? 'detach the host\'s old root: no path inside leads back to the host\'s files' : `unmount ${str(a.target)}`;
    case 'mknod': return `mknod ${str(a.path)}: a ${str(a.kind)} device node ${str(a.major)}:${str(a.minor)} (the kernel driver is chosen by these numbers)`;
    case 'pivot_root': return 'pivot_root: / is now the image; the host\'s root is stacked on top, about to be detached';
    case 'sethostname': return `sethostname("${str(a.name)}"): the hostname changes only inside this UTS namespace`;
    case 'chdir': return `working directory: ${str(a.path)}`;
    case 'sysctl': return `sysctl ${str(a.key)}=${str(a.value)} (a namespaced kernel setting)`;
    case 'setgroups': return `setgroups: supplementary groups = ${str(a.gids)}`;
    case 'setresgid': return `setresgid(${str(a.gid)}): the program's group`;
    case 'setresuid': return `setresuid(${str(a.uid)}): the program's user${a.uid === 0 ? ' (root, but with limited capabilities)' : ''}`;
    case 'capset': {
      const effective = str(a.effective).split(',').filter((c) => c !== '(none)');
      const isDefault = effective.length === DEFAULT_CAPABILITIES.length && DEFAULT_CAPABILITIES.every((c) => effective.includes(c));
      return isDefault ? 'capset: keeping Docker\'s 14 default capabilities'
        : `capset: keeping ${effective.length} capabilities${effective.length ? ` (${effective.join(', ')})` : ''}`;
    }
    case 'prctl':
      if (a.option === 'PR_SET_NO_NEW_PRIVS') return 'prctl(PR_SET_NO_NEW_PRIVS): setuid programs and file capabilities can no longer raise privileges';
      if (a.option === 'PR_SET_KEEPCAPS') return undefined;
      if (a.option === 'PR_SET_DUMPABLE') return 'prctl(PR_SET_DUMPABLE, 0): the container can neither ptrace this host process nor open its /proc/PID/exe (runc CVE-2019-5736); the program\'s execve makes it dumpable again';
      if (a.option === 'PR_CAP_AMBIENT') return a.raise ? `ambient capability ${str(a.raise)}: kept across execve even for a non-root user` : undefined;
      return undefined;
    case 'seccomp': return a.operation === 'SECCOMP_SET_MODE_FILTER' ? describeSeccompFilter(a) : undefined;
    case 'seccomp_export_bpf': return 'seccomp_export_bpf: libseccomp compiled the seccomp profile into a BPF program, installed last';
    case 'seccomp.cache': return `seccomp: the same rules were compiled before — ${str(a.instructions)} BPF instructions reused from the cache, installed last`;
    case 'seccomp_init': case 'seccomp_arch_add': case 'seccomp_rule_add': case 'memfd_create': case 'socket': return undefined;
    case 'keyctl':
      if (a.operation === 'KEYCTL_JOIN_SESSION_KEYRING') {
        return `keyctl(JOIN_SESSION_KEYRING, "${str(a.name)}"): a session keyring of the container's own — keys the host's root keeps in its session keyring are no longer this process's to read or link`;
      }
      return undefined;
    case 'spec.security': return securityWarnings(a).join('\n') || undefined;
    case 'close_range': return 'close_range(3, ~0, CLOEXEC): every file descriptor above 2 closes at exec; the program inherits only stdin, stdout, stderr';
    case 'ioctl':
      if (a.request === 'TIOCGPTN') return 'opened the container\'s /dev/pts/ptmx: a new pseudo-terminal';
      if (a.request === 'TIOCSCTTY') return 'TIOCSCTTY: the pty is the container\'s controlling terminal (Ctrl-C becomes SIGINT inside)';
      if (a.request === 'TIOCSWINSZ') return `window size ${str(a.columns)}x${str(a.rows)}`;
      if (a.request === 'SIOCSIFFLAGS') return `${str(a.interface)} up (ioctl SIOCSIFFLAGS, IFF_UP): the new network namespace's loopback starts down; now 127.0.0.1 answers inside`;
      return undefined;
    case 'cgroup.write': return `write ${str(a.value)} to ${path.basename(str(a.file))}: ${str(a.meaning)}`;
    case 'cgroup.create': return `mkdir ${str(a.dir)}: ${str(a.meaning)} (the kernel fills the new directory with its files)`;
    case 'cgroup.remove': return `rmdir ${str(a.dir)}: ${str(a.meaning)}, now that no process is left in it`;
    case 'cgroup.kill': return str(a.meaning);
    case 'prlimit': return `prlimit ${str(a.resource)} soft ${str(a.soft)} hard ${str(a.hard)} on process ${str(a.pid)}: inherited by the program it execs`;
    case 'oom_score_adj': return `oom_score_adj ${str(a.value)} for process ${str(a.pid)}: how eagerly the OOM killer picks it`;
    case 'uid_map': case 'gid_map':
      return `write ${str(a.map)} to /proc/${str(a.pid)}/${event.call}: ids inside the container's user namespace are these host ids ("inside outside count")`;
    case 'user-namespace':
      return `minibox-launch ${a.joined ? `entered the user namespace ${str(a.joined)}` : 'made the container\'s user namespace'} as its root; `
        + `the container's PID 1 is host pid ${str(a.init)}, in namespaces that user namespace owns`;
    case 'wait-for-start': return `created: waiting on the exec fifo (${str(a.fifo)}) until \`start\` opens it for reading`;
    case 'skip-ambient': return `ambient ${str(a.capability)} left out: ${str(a.reason)} (as runc)`;
    case 'sendmsg': return `sendmsg SCM_RIGHTS to ${str(a.socket)}: the pty master (${str(a.data)}) goes to the engine, which now owns the terminal`;
    case 'socket': case 'connect': return undefined;
    case 'cgroup.skipped': return `cgroups skipped: ${str(a.why)} (a ${str(a.mode)} host; docs/vm.md)`;
    case 'process.signal': return `kill(${str(a.pid)}, ${str(a.signal)}): ${str(a.why)}`;
    case 'process.exit': return `${str(a.how)}: the monitor reaped the container's PID 1 and wrote its status`;
    case 'container.files': return `rm -r ${str(a.dir)}: the container's record, bundle and writable layer are deleted`;
    case 'pull.manifest':
      return `GET manifests → ${str(a.digest)} (${str(a.mediaType)}): ${str(a.layers)} layers`
        + (a.index ? `, picked for ${str(a.platform)} from the index ${str(a.index)}` : '');
    case 'pull.config': return `config ${str(a.digest)}: ${a.cached ? 'already in the store' : 'downloaded and checked against its sha256 digest'}`;
    case 'pull.layer':
      return a.action === 'cached' ? `layer ${str(a.digest)}: already unpacked (diff id ${str(a.diffId)}), nothing downloaded`
        : `layer ${str(a.digest)}: ${a.downloaded ? `${str(a.size)} bytes downloaded, sha256 checked, ` : ''}unpacked`
          + `${a.pipelined ? ' (on the unpack thread, while the bytes arrived)' : ''}, diff id ${str(a.diffId)} checked`;
    case 'cgroup.frozen': return str(a.meaning);
    case 'execve':
      return event.kind === 'step' ? `execve ${str(a.path)}: ${str(a.by ?? 'Node')} is replaced by the container's program` : undefined;
    default:
      // Network steps (veth, bridge, NAT…) are commands, not syscalls: their sentences live in src/network.
      if (event.call.startsWith('net.')) return describeNetworkStep(event);
      if (event.call.startsWith('push.')) return describePushStep(event.call, event.args);
      return undefined;
  }
}

/** What config.json gives up (--privileged, --security-opt): said before the container starts. */
export function securityWarnings(a: Record<string, unknown>): string[] {
  const warnings: string[] = [];
  const privileged = a.seccomp === false && a.maskedPaths === 0 && Number(a.capabilities) > DEFAULT_CAPABILITIES.length;
  if (privileged) {
    warnings.push(`--privileged: ${str(a.capabilities)} capabilities, ${str(a.devices)} of the host's devices, no seccomp filter, `
      + 'no masked or read-only kernel files — root in this container can mount the host\'s disks and load kernel modules: '
      + 'it is root on the host');
  } else if (a.seccomp === false) {
    warnings.push('seccomp=unconfined: no system call filter — every kernel entry point (io_uring, bpf, keyctl, '
      + 'user namespaces…) is open to the container, and with it every kernel bug behind them');
  }
  if (a.noNewPrivileges === false) {
    warnings.push('no no_new_privs: setuid programs in the image (su, sudo, a planted setuid shell) can raise privileges');
  }
  return warnings;
}

/** The filter reaches the kernel: what it allows, what it refuses, and why it exists. */
function describeSeccompFilter(a: Record<string, unknown>): string {
  const refusal = a.defaultAction === 'SCMP_ACT_ERRNO' ? 'fail with EPERM' : `get ${str(a.defaultAction)}`;
  return `seccomp(SET_MODE_FILTER): ${str(a.instructions)} BPF instructions now check every system call (${str(a.architectures) || 'native'} ABIs): `
    + `${str(a.allowed)} are allowed, ${str(a.refused)} answered with an error, all others ${refusal} before the kernel runs them `
    + '— io_uring, bpf, keyctl, perf_event_open, new user namespaces: the kernel code where container escapes '
    + '(e.g. CVE-2022-0185) begin is out of reach';
}

/** A bind (move_mount) of one of the host's device nodes into the container's /dev (runtime/rootfs/devices.ts). */
function isDeviceBind(event: SysEvent): boolean {
  const source = str(event.args.source);
  return event.call === 'move_mount' && source.startsWith('/dev/') && event.args.target === source;
}

/** Narrates a stream of events; collapses runs of capability drops and device binds into one sentence each. */
export function createNarrator(write: (sentence: string) => void): { event(event: SysEvent): void; flush(): void } {
  const dropped: string[] = [];
  const nodes: string[] = [];
  const devices: string[] = [];
  const flush = (): void => {
    if (dropped.length > 0) {
      write(`prctl(PR_CAPBSET_DROP) ×${dropped.length}: capabilities removed for good from this process and all it runs — ${dropped.join(', ')}`);
      dropped.length = 0;
    }
    if (nodes.length > 0) {
      write(`mknod ${nodes.join(', ')}: device nodes; the kernel picks the driver by the numbers, not the name`);
      nodes.length = 0;
    }
    if (devices.length > 0) {
      write(`devices ${devices.join(', ')}: the host's own nodes, bind-mounted onto files made inside /dev's fd; /dev and every other writable mount is nodev, so no other device node (one made with mknod) can be opened`);
      devices.length = 0;
    }
  };
  return {
    event(event) {
      if (event.call === 'prctl' && event.args.option === 'PR_CAPBSET_DROP' && !event.error) {
        dropped.push(str(event.args.capability));
        return;
      }
      if (isDeviceBind(event) && !event.error) {
        devices.push(str(event.args.source));
        return;
      }
      if (event.call === 'mknod' && !event.error) {
        nodes.push(`${str(event.args.path)} (${str(event.args.kind)} ${str(event.args.major)}:${str(event.args.minor)})`);
        return;
      }
      const sentence = describeEvent(event);
      if (!sentence) return; // a silent step (openat2, unlinkat of a missing name…) does not end a run
      flush();
      write(event.error ? `${sentence} — FAILED: ${event.error}` : sentence);
    },
    flush,
  };
}
