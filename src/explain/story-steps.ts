/**
 * story-steps.ts — each kernel step as one line of the `--explain` story: plain words, then the call.
 *
 * narrate.ts has a sentence per call (`--explain=all`); a student reading a container's start
 * needs fewer, shorter lines: seven kernel file systems are one line, three /etc files one line,
 * 27 dropped capabilities and a capset one line that names the 14 *kept*. So every event becomes
 * a StoryStep with a `key`: steps with the same key are gathered into one line (at the first
 * one's place), each adding an `item` (a path, a capability). `render` makes the line from the
 * items, once all are in. Paths are shortened later, by story.ts (`<ctr>`).
 * Network steps have their story lines beside their code (network/explain.ts), like their sentences.
 *
 * Try: `minibox run --rm --explain busybox true 2>&1 | grep 'capabilities kept'` →
 * `14 capabilities kept (27 dropped for good): CHOWN, DAC_OVERRIDE, FOWNER`
 */
import path from 'node:path';
import type { SysEvent } from '../sys/trace.js';
import { loopbackStoryStep, networkStoryStep } from '../network/explain.js';
import { isWhiteout, pullStoryStep } from './image-steps.js';
import { describeEvent, securityWarnings } from './narrate.js';
import { fileSystemStep } from './mount-steps.js';
import { list, single, str, type StoryStep } from './story-line.js';

export type { StoryLine, StoryStep } from './story-line.js';

const NAMESPACE_NAMES: Record<string, [string, string]> = {
  CLONE_NEWNS: ['MNT', 'mounts'], CLONE_NEWUTS: ['UTS', 'hostname'], CLONE_NEWIPC: ['IPC', 'IPC'],
  CLONE_NEWNET: ['NET', 'network'], CLONE_NEWPID: ['PID', 'process numbers'], CLONE_NEWUSER: ['USER', 'user ids'],
  CLONE_NEWCGROUP: ['cgroup', 'cgroup tree'],
};

/** The PID namespace: unshare + spawn + setns back (foreground), the monitor's fork (-d), or setns (exec). */
function pidNamespaceStep(item: string): StoryStep {
  return {
    key: 'pid-namespace', item,
    render: (items) => {
      const spawned = items.find((i) => i.startsWith('spawn'));
      const pid = spawned?.split(':')[2] ?? '?';
      if (spawned?.startsWith('spawn-exec')) {
        return { words: `PID: the exec stage joins the container's namespace (host pid ${pid})`, call: 'setns(CLONE_NEWPID), spawn' };
      }
      const byMonitor = spawned?.split(':')[1] === 'monitor';
      return {
        words: `PID 1 of a new PID namespace: the init stage (host pid ${pid})`,
        call: byMonitor ? 'monitor: unshare(CLONE_NEWPID), fork' : 'unshare(CLONE_NEWPID), spawn, setns back',
      };
    },
  };
}

/**
 * The namespaces unshared together, with what the story says of them later: the hostname set in
 * the UTS one, and the MNT one made private (mount propagation is the mount namespace's affair).
 */
function ownNamespacesStep(item: string): StoryStep {
  return {
    key: 'own-namespaces', item,
    render: (items) => {
      const flags = items.find((i) => i.startsWith('unshare:'))?.slice(8) ?? '';
      const hostname = items.find((i) => i.startsWith('hostname:'))?.slice(9);
      const names = flags.split('|').filter(Boolean).map((flag) => {
        const [name, what] = NAMESPACE_NAMES[flag] ?? [flag, flag];
        if (flag === 'CLONE_NEWNS' && items.includes('private')) return [name, `${what} (private)`];
        if (flag === 'CLONE_NEWUTS' && hostname) return [name, `hostname (${hostname})`];
        return [name, what];
      });
      const braced = flags.split('|').map((flag) => flag.replace(/^CLONE_NEW/, ''));
      const unshared = braced.length > 1 ? `unshare(CLONE_NEW{${braced.join(',')}})` : flags ? `unshare(${flags})` : '';
      const calls = [unshared, hostname ? 'sethostname' : '', items.includes('private') ? 'mount --make-rprivate /' : ''];
      return { words: `${names.map((n) => n[0]).join(' ')}: its own ${names.map((n) => n[1]).join(', ')}`, call: calls.filter(Boolean).join(', ') };
    },
  };
}

function namespaceStep(event: SysEvent): StoryStep | undefined {
  const a = event.args;
  if (event.call === 'unshare') {
    const flags = str(a.flags);
    if (flags === 'CLONE_NEWPID') return pidNamespaceStep('unshare');
    if (flags === 'CLONE_FS') return single('unshare-fs', 'its own root and working directory, so that setns may change them', 'unshare(CLONE_FS)');
    if (flags === 'CLONE_NEWCGROUP') {
      return single('cgroup-namespace', 'cgroup namespace: its own cgroup is its root (0::/)', 'unshare(CLONE_NEWCGROUP)');
    }
    return ownNamespacesStep(`unshare:${flags}`);
  }
  if (event.call === 'setns') {
    if (str(a.what).includes('engine\'s own')) return pidNamespaceStep('setns-back');
    if (a.nstype === 'CLONE_NEWPID') return pidNamespaceStep('setns-pid');
    return {
      key: 'setns', item: (NAMESPACE_NAMES[str(a.nstype)] ?? [str(a.nstype)])[0],
      render: (items) => ({ words: `joins the container's namespaces: ${items.join(', ')}`, call: `setns ×${items.length}` }),
    };
  }
  if (event.call === 'spawn-init') return pidNamespaceStep(`spawn-init:${a.monitor ? 'monitor' : 'engine'}:${str(a.pid)}`);
  if (event.call === 'spawn-exec') return pidNamespaceStep(`spawn-exec:engine:${str(a.pid)}`);
  if (event.call === 'sethostname') return ownNamespacesStep(`hostname:${str(a.name)}`);
  if (event.call === 'sysctl') {
    return { key: 'sysctl', item: `${str(a.key)}=${str(a.value)}`, render: (items) => ({ words: `namespaced kernel settings: ${items.join(', ')}`, call: 'write /proc/sys/…' }) };
  }
  return undefined;
}

/** The container's own cgroup in one line: made (mkdir), its controllers enabled, its PID 1 moved in. */
function ownCgroupStep(item: string): StoryStep {
  return {
    key: 'own-cgroup', item,
    render: (items) => {
      const of = (kind: string): string[] => items.filter((i) => i.startsWith(`${kind}:`)).map((i) => i.slice(kind.length + 1));
      const dir = of('dir').at(-1);
      const controllers = [...new Set(of('controllers').flatMap((c) => c.split(' ')))];
      const words = `${dir ? 'its own cgroup' : 'its cgroup'}${controllers.length ? `, controllers ${controllers.join(' ')}` : ''}`
        + (of('process').length ? `; process ${of('process').join(', ')} moved in` : '');
      const calls = [dir ? `mkdir ${dir.split('/').slice(-2).join('/')}` : '', controllers.length ? 'cgroup.subtree_control' : '', of('process').length ? 'cgroup.procs' : ''];
      return { words, call: calls.filter(Boolean).join(', ') };
    },
  };
}

function cgroupStep(event: SysEvent): StoryStep | undefined {
  const a = event.args;
  switch (event.call) {
    case 'cgroup.skipped': return single('cgroup-skipped', `skipped: ${str(a.why)}`, `${str(a.mode)} host`);
    case 'cgroup.create': return ownCgroupStep(`dir:${str(a.dir)}`);
    case 'cgroup.write': {
      const file = path.basename(str(a.file));
      if (file === 'cgroup.subtree_control') return ownCgroupStep(`controllers:${str(a.value).replace(/\+/g, '')}`);
      if (file === 'cgroup.procs') return ownCgroupStep(`process:${str(a.value)}`);
      return single(`cgroup-write:${str(a.file)}`, str(a.meaning), `${file} = ${str(a.value)}`);
    }
    case 'cgroup.kill': return { key: 'cgroup-kill', item: str(a.pid), render: (items) => ({ words: `processes left in its cgroup killed: ${items.join(', ')}`, call: 'kill(SIGKILL)' }) };
    case 'cgroup.remove': return single(`cgroup-remove:${str(a.dir)}`, 'its cgroup removed, now that no process is left in it', `rmdir ${str(a.dir)}`);
    default: return undefined;
  }
}

function capabilityStep(item: string): StoryStep {
  return {
    key: 'capabilities', item,
    render: (items) => {
      const dropped = items.filter((i) => i.startsWith('drop:')).length;
      const kept = items.find((i) => i.startsWith('keep:'))?.slice(5).split(',').filter((c) => c && c !== '(none)') ?? [];
      const names = kept.map((c) => c.replace(/^CAP_/, '')).join(', ');
      return {
        words: `${kept.length} capabilities kept${dropped ? ` (${dropped} dropped for good)` : ''}: ${names || 'none'}`,
        call: `${dropped ? `prctl(PR_CAPBSET_DROP) ×${dropped}, ` : ''}capset`,
      };
    },
  };
}

function securityStep(event: SysEvent): StoryStep | undefined {
  const a = event.args;
  switch (event.call) {
    case 'prctl':
      if (a.option === 'PR_CAPBSET_DROP') return capabilityStep(`drop:${str(a.capability)}`);
      if (a.option === 'PR_SET_NO_NEW_PRIVS') return privilegeStep('nnp');
      if (a.option === 'PR_SET_DUMPABLE') {
        return single('dumpable', 'non-dumpable: no ptrace of this stage, no open of its /proc/PID/exe', 'prctl(PR_SET_DUMPABLE, 0)');
      }
      if (a.option === 'PR_CAP_AMBIENT') return list('ambient', str(a.raise), (items) => `ambient capabilities (kept by a non-root user): ${items.join(', ')}`, () => 'prctl(PR_CAP_AMBIENT)');
      return undefined;
    case 'capset': return capabilityStep(`keep:${str(a.effective)}`);
    case 'keyctl': return privilegeStep('keyring');
    case 'seccomp': case 'seccomp_export_bpf': case 'seccomp.cache': return seccompStep(event);
    case 'spec.security': {
      const warnings = securityWarnings(a);
      return warnings.length ? single('spec-security', `WARNING ${warnings.join('; ')}`, 'config.json') : undefined;
    }
    default: return undefined;
  }
}

/** Two small defences, one line: no_new_privs and a session keyring of its own. */
function privilegeStep(item: string): StoryStep {
  return {
    key: 'privileges', item,
    render: (items) => ({
      words: [items.includes('nnp') ? 'no new privileges (setuid is inert)' : '', items.includes('keyring') ? 'a keyring of its own' : ''].filter(Boolean).join(', '),
      call: [items.includes('keyring') ? 'keyctl(JOIN_SESSION_KEYRING)' : '', items.includes('nnp') ? 'prctl(PR_SET_NO_NEW_PRIVS)' : ''].filter(Boolean).join(', '),
    }),
  };
}

function seccompStep(event: SysEvent): StoryStep {
  const a = event.args;
  const item = event.call === 'seccomp'
    ? `filter:${str(a.allowed)}:${str(a.instructions)}:${a.defaultAction === 'SCMP_ACT_ERRNO' ? 'fail with EPERM' : `get ${str(a.defaultAction)}`}`
    : event.call;
  return {
    key: 'seccomp', item,
    render: (items) => {
      const filter = items.find((i) => i.startsWith('filter:'))?.split(':');
      const compiled = items.includes('seccomp.cache') ? 'compiled before, from the cache' : 'compiled by libseccomp';
      if (!filter) return { words: `seccomp filter ${compiled}, installed last`, call: 'seccomp' };
      return { words: `seccomp: ${filter[1]} system calls allowed, all others ${filter[3]}`, call: `seccomp(SET_MODE_FILTER), ${filter[2]} BPF instructions` };
    },
  };
}

function programStep(event: SysEvent): StoryStep | undefined {
  const a = event.args;
  switch (event.call) {
    case 'setgroups': return identityStep(`groups:${str(a.gids)}`);
    case 'setresgid': return identityStep(`gid:${str(a.gid)}`);
    case 'setresuid': return identityStep(`uid:${str(a.uid)}`);
    case 'chdir': return identityStep(`cwd:${str(a.path)}`);
    case 'pipe2': return startProgramStep('pipe');
    case 'close_range': return startProgramStep('close_range');
    case 'ioctl':
      if (a.request === 'TIOCGPTN') return single('tty', 'a terminal of its own: a new pty in its /dev/pts, its controlling terminal', 'ptmx, TIOCSCTTY');
      if (a.request === 'TIOCSCTTY') return single('tty', 'a terminal of its own: a new pty in its /dev/pts, its controlling terminal', 'ptmx, TIOCSCTTY');
      if (a.request === 'SIOCSIFFLAGS' && a.interface === 'lo') return loopbackStoryStep();
      if (a.request === 'TIOCSWINSZ') return single('winsize', `window size ${str(a.columns)}x${str(a.rows)}`, 'ioctl(TIOCSWINSZ)');
      return undefined;
    case 'execve': return event.kind === 'step' ? startProgramStep(`execve:${str(a.by ?? 'Node')}:${str(a.path)}`) : undefined;
    case 'process.signal':
      return single(`signal:${str(a.signal)}`, `${str(a.signal)} to its PID 1${a.why ? `: ${str(a.why)}` : ''}`, `kill(${str(a.pid)}, ${str(a.signal)})`);
    case 'process.exit':
      return single('exit', `${str(a.how)}: its monitor reaped it (waitpid) and wrote the status`, 'exit-status.json');
    default: return undefined;
  }
}

/** The program replaces the stage: what it inherits (stdio only: pipes, close_range) and execve. */
function startProgramStep(item: string): StoryStep {
  return {
    key: 'execve', item, last: true,
    render: (items) => {
      const execve = items.find((i) => i.startsWith('execve:'))?.slice(7); // `BY:PATH`: the stage it replaces
      const by = execve?.slice(0, execve.indexOf(':'));
      const program = execve?.slice(execve.indexOf(':') + 1);
      const closed = items.includes('close_range');
      const words = program ? `${program} replaces ${by}${closed ? ', with fds 0, 1, 2 only' : ''}` : 'the program was not started';
      const calls = [items.includes('pipe') ? 'pipe2' : '', closed ? 'close_range(3, ~0, CLOEXEC)' : '', program ? 'execve' : ''];
      return { words, call: calls.filter(Boolean).join(', ') };
    },
  };
}

function identityStep(item: string): StoryStep {
  return {
    key: 'identity', item,
    render: (items) => {
      const get = (name: string): string | undefined => items.find((i) => i.startsWith(`${name}:`))?.slice(name.length + 1);
      const uid = get('uid');
      const parts = [
        uid !== undefined ? `uid ${uid}${uid === '0' ? ' (root, but see 6)' : ''}` : undefined,
        get('gid') !== undefined ? `gid ${get('gid')}` : undefined,
        get('groups') !== undefined ? `groups ${get('groups')}` : undefined,
        get('cwd') !== undefined ? `in ${get('cwd')}` : undefined,
      ].filter(Boolean);
      const calls = ['setgroups', 'setresgid', 'setresuid', 'chdir'].filter((c) => items.some((i) => i.startsWith(c === 'setgroups' ? 'groups' : c === 'chdir' ? 'cwd' : c.slice(-3))));
      const words = uid !== undefined ? `runs as ${parts.join(', ')}` : `working directory ${get('cwd') ?? '?'}`;
      return { words, call: calls.join(', ') };
    },
  };
}

/** The story step of an event; undefined for bookkeeping and for the steps a story does not tell. */
export function storyStep(event: SysEvent): StoryStep | undefined {
  if (isWhiteout(event)) return pullStoryStep(event); // a mknod, but of a layer's whiteout
  // `--make-rprivate /` is the MNT namespace's own line (mount propagation, chapters.ts).
  if (event.call === 'mount' && event.args.target === '/' && event.args.flags === 'MS_REC|MS_PRIVATE') return ownNamespacesStep('private');
  const step = namespaceStep(event) ?? cgroupStep(event) ?? fileSystemStep(event) ?? securityStep(event) ?? programStep(event)
    ?? (event.call.startsWith('net.') ? networkStoryStep(event) : undefined)
    ?? (event.call.startsWith('pull.') ? pullStoryStep(event) : undefined);
  if (step) return step;
  // A step without a story line of its own still gets its --explain=all sentence.
  const sentence = describeEvent(event);
  return sentence ? single(`${event.call}:${sentence}`, sentence, event.call) : undefined;
}
