/**
 * exec-stage.ts — a second process joins a running container, read top to bottom.
 *
 * `minibox exec web sh` does not create anything: the namespaces, the root file system, the
 * cgroup already exist, held by the container's PID 1. A new process only has to *enter* them,
 * with setns(2) on the files in /proc/<pid>/ns/, and take the same privileges. The engine starts
 * this file as `node exec-stage.js` after setns(CLONE_NEWPID) — so this process is already in the
 * container's PID namespace — and moves it into the container's cgroup; then it sends the plan
 * (an ExecStageConfig) on fd 3. Errors go back on fd 4 like the init stage's (channel.ts).
 * Because the container can see it from birth, Node runs from a read-only mount of its binary
 * (native/minibox-launch.c) and this file's first call makes it non-dumpable: the container can
 * neither PTRACE_ATTACH to it nor open /proc/PID/exe (runc CVE-2019-5736 class).
 *
 *    1. read the plan                          6. the terminal (if asked): /dev/pts/N
 *    2. open /proc/<pid>/ns/{ipc,uts,net,      7. find the program in the container's $PATH
 *       cgroup,mnt} while the host's /proc        (exit 127 / 126 like Docker)
 *       is still visible; build the seccomp    8. session keyring, user and groups,
 *       filter (libseccomp, from the host)        capabilities, no_new_privs, the seccomp filter
 *    3. shrink the capability bounding set     9. close-on-exec above fd 2, execve
 *    4. unshare(CLONE_FS), then setns into each namespace
 *    5. check that `/` is the container's root, chdir to the working directory
 *
 * Why unshare(CLONE_FS)? Node is multithreaded, and the kernel refuses setns(CLONE_NEWNS) to a
 * thread that shares its root/cwd (struct fs_struct) with other threads — changing `/` under
 * them would surprise them. CLONE_FS gives this main thread its own copy. After setns into a
 * mount namespace the kernel sets our root and cwd to that namespace's root: the container's `/`.
 *
 * Only synchronous calls are used: Node's helper threads stay in the host's namespaces.
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox exec web sh -c 'readlink
 * /proc/1/ns/pid; readlink /proc/self/ns/pid' | uniq | wc -l` → `1` (the same PID namespace as
 * the container's PID 1).
 */
import fs from 'node:fs';
import { publishStep } from '../../sys/trace.js';
import { CLONE, setns, unshare } from '../../sys/namespaces.js';
import { declareProcessCalls } from '../../sys/process.js';
import { declarePtyCalls } from '../../sys/pty.js';
import { failStage, forwardTraceEvents, readFromParent } from './channel.js';
import { CommandError, findProgram } from '../process/find-program.js';
import { becomeNonDumpable, dropBoundingSet, finalizePrivileges } from '../process/privileges.js';
import { prepareSyscallFilter } from '../process/syscall-filter.js';
import { enterContainerSessionKeyring } from '../process/session-keyring.js';
import { handOverToProgram, prepareHandOver } from '../process/exec-handoff.js';
import type { ExecStageConfig } from '../exec-in-container.js';
import { cloneFlag, namespaceFile } from '../namespace-table.js';
import { attachTerminal } from '../process/controlling-terminal.js';
import { ExitCode } from '../../errors.js';
import { chrootToFd } from '../../sys/pivot-root.js';

/** open(2) flags O_PATH | O_DIRECTORY: a handle on a directory, for fchdir. */
const O_PATH_DIRECTORY = 0o10000000 | 0o200000;

function enter(config: ExecStageConfig): never {
  // 2. Namespace handles first: once we are in the container's mount namespace, its /proc
  //    shows only its own PIDs and /proc/<host pid> is gone.
  declareProcessCalls();
  declarePtyCalls();
  const syscallFilter = prepareSyscallFilter(config.seccomp, config.seccompCache); // libseccomp is on the host's disk
  // A chroot'ed container (minibox-runc --no-pivot, or no mount namespace): its init's root, held
  // from the host's /proc before the join (the container's /proc may not show this process).
  const initRoot = config.chrootToInitRoot ? fs.openSync(`/proc/${config.containerPid}/root`, O_PATH_DIRECTORY) : undefined;
  const handles = config.namespaces.map((type) => {
    const path = namespaceFile(config.containerPid, type);
    return { type, path, fd: fs.openSync(path, 'r') };
  });

  // 3. The ceiling first, while /proc/sys/kernel/cap_last_cap is the host's to read.
  const capabilities = config.capabilities;
  if (capabilities) dropBoundingSet(capabilities);

  // 4. Join. The mount namespace comes last: it changes what every path means.
  unshare(CLONE.FS);
  for (const handle of handles) {
    setns(handle.fd, cloneFlag(handle.type), handle.path);
    fs.closeSync(handle.fd);
  }

  // 5. Same root as the container's PID 1? (It could differ if PID 1 chroot'ed itself.)
  if (initRoot !== undefined) chrootToFd(initRoot, `/proc/${config.containerPid}/root`);
  const root = fs.statSync('/');
  if (root.dev !== config.rootIdentity.dev || root.ino !== config.rootIdentity.ino) {
    throw new Error('the container\'s root directory is not the root of its mount namespace: cannot enter it');
  }
  try {
    process.chdir(config.cwd);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message;
    throw new CommandError(`chdir to cwd ("${config.cwd}") set for exec failed: ${reason}`, ExitCode.CannotExecute);
  }
  publishStep('chdir', { path: config.cwd });

  // 6. The pty the engine opened in the container's own devpts.
  if (config.ptyNumber !== undefined) attachTerminal('/', config.ptyNumber);

  // 7. The program, in the container's $PATH.
  const [name, ...rest] = config.args as [string, ...string[]];
  const program = findProgram(name, config.env);

  // 8. Who it runs as and what it may do: the same steps, in the same order, as the init stage —
  //    the container's session keyring, user, capabilities, no_new_privs, the container's filter.
  enterContainerSessionKeyring(config.sessionKeyring);
  prepareHandOver(); // fds and signals, while no seccomp filter can refuse the calls
  finalizePrivileges(config, syscallFilter);

  // 9. Become the program.
  return handOverToProgram(program, name, rest, config.env);
}

/** The engine writes the whole plan, then closes its end: read to end-of-file. */
function readConfig(): ExecStageConfig {
  const chunks: Buffer[] = [];
  const chunk = Buffer.alloc(65536);
  for (;;) {
    const count = readFromParent(chunk);
    if (count === 0) break;
    chunks.push(Buffer.from(chunk.subarray(0, count)));
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new Error('the engine went away before sending the exec plan');
  return JSON.parse(text) as ExecStageConfig;
}

try {
  // Before anything else: this host process is already visible in the container's PID namespace.
  forwardTraceEvents(process.argv); // only subscribes: the first event is the next line's
  becomeNonDumpable(); // native/minibox-launch.c (CVE-2019-5736 class)
  enter(readConfig());
} catch (error) {
  failStage('exec', error);
}
