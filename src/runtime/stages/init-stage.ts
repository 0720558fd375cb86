/**
 * init-stage.ts — the birth of a container, read top to bottom.
 *
 * The engine starts this file as `node init-stage.js [BUNDLE] [--trace]` with fd 3 (engine → here)
 * and fd 4 (here → engine) — see channel.ts. It is PID 1 of a fresh PID namespace. Node is
 * started through native/minibox-launch (programs.ts), and this file's first call makes the
 * process non-dumpable: a host process that the container can see must not be traceable, nor
 * hand out its binary through /proc/1/exe (runc CVE-2019-5736 class).
 *
 * Step 0, waiting for the bundle: a foreground `run` starts this process *early*, without BUNDLE,
 * as soon as it knows a container will run. While Node boots and loads the modules below
 * (~50–70 ms), the engine finds the image and writes the bundle; then it sends the directory as
 * the first message on fd 3. Until that message this process touches nothing — no namespace, no
 * mount — so an `abort` instead (the image did not exist…) just ends it. A detached start does
 * the same under its C monitor (runtime/early-monitor.ts); BUNDLE on the command line skips step 0.
 *
 * Try: `strace -f -s 200 -e trace=execve minibox run --rm busybox true 2>&1 | grep -o
 * 'init-stage\.c\?js' | head -1` → `init-stage.` (the joined start-up file, or this file's build; with `-e trace=execve,openat` it shows this file
 * starting before the engine writes config.json).
 *
 * Then it follows the order the kernel needs (crun's linux.c does the same):
 *
 *    1. read config.json                       7. mask and freeze kernel files, sysctls
 *    2. unshare mount/uts/ipc/net, lo up       8. hostname, read-only root, working directory
 *    3. wait for the engine's "go"             9. find the program in the container's $PATH
 *       (it puts us in our cgroup and wires   10. session keyring, user, groups, capabilities,
 *       the network), then unshare cgroup         no_new_privs, then the seccomp filter
 *    4. private mounts, rootfs, config mounts  11. close-on-exec for every fd above 2
 *                                              12. execve: Node is replaced by the program
 *    5. terminal (if asked), device nodes         (11–12: exec-handoff.ts, shared with `exec`)
 *    6. pivot_root into the rootfs
 *
 * With a user namespace (minibox-runc only), this process started as the container's root inside
 * it — native/launch-userns.c made it and the PID namespace before Node ran (Node cannot) — so the
 * namespaces of step 2 belong to it, and mounting proc in step 4 is allowed.
 *
 * An OCI `create` (src/oci/) adds one wait between 10 and 11: the stage says "created" and blocks
 * on the exec fifo until `start` (exec-fifo.ts), as runc's init does — after user, capabilities
 * and seccomp, so that what the kernel refuses there fails `create`, as with runc; and config.json's
 * createContainer hooks (before 6) and startContainer hooks (after the wait) run here, inside
 * the container's namespaces (spec-hooks.ts).
 *
 * Why the cgroup namespace waits for "go": a cgroup namespace is rooted at the cgroup its creator
 * is in *at unshare time*. Unshared after the engine moved us into /sys/fs/cgroup/minibox/<id>,
 * the container sees that cgroup as `/` (`cat /proc/self/cgroup` → `0::/`), as with runc.
 *
 * Any error before execve goes to the engine as one JSON line and the stage exits 125 (or
 * 126/127 when the program cannot be started). Only synchronous calls are used: Node runs async
 * file operations on helper threads, and those threads still live in the host's namespaces —
 * only this (main) thread moves. Every module is imported and every C function declared before
 * pivot_root, because the host's disk is unreachable afterwards.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode } from '../../errors.js';
import { publishStep } from '../../sys/trace.js';
import { CLONE, setns, unshare, sethostname } from '../../sys/namespaces.js';
import { declarePivotRootCalls } from '../../sys/pivot-root.js';
import { declareProcessCalls } from '../../sys/process.js';
import { declarePtyCalls } from '../../sys/pty.js';
import { declareOpenat2Calls } from '../../sys/openat2.js';
import { bringInterfaceUp, declareNetdeviceCalls } from '../../sys/netdevice.js';
import { failStage, forwardTraceEvents, receiveFromParent, sendToParent, type OciStart, type ParentMessage } from './channel.js';
import { readBundle, SECCOMP_CACHE_ANNOTATION, type RuntimeSpec } from '../../bundle/oci-bundle.js';
import { cloneFlag, initStageUnshareFlags, namespacesToJoin, wantsCgroupNamespace, wantsMountNamespace, type JoinedNamespace } from '../namespace-table.js';
import { applyRootfsPropagation, chrootIntoRootfs, makeMountsPrivate, mountConfigMounts, mountRootfs, moveIntoRootfs, pivotIntoRootfs } from '../rootfs/rootfs.js';
import { assertDevicesOpen, makeConfigDevices, type DeviceRule } from '../rootfs/config-devices.js';
import { inUserNamespace } from '../id-mappings.js';
import { attachTerminal } from '../process/controlling-terminal.js';
import { createDevices, createDevSymlinks } from '../rootfs/devices.js';
import { makePathsReadonly, makeRootReadonly, maskPaths } from '../rootfs/protect.js';
import { applySysctls } from '../rootfs/sysctl.js';
import { findProgram } from '../process/find-program.js';
import { handOverToProgram, placePreservedFds, prepareHandOver } from '../process/exec-handoff.js';
import { becomeNonDumpable, dropBoundingSet, finalizePrivileges } from '../process/privileges.js';
import { prepareSyscallFilter } from '../process/syscall-filter.js';
import { enterNewSessionKeyring } from '../process/session-keyring.js';
import { holdExecFifo, waitForStart } from '../exec-fifo.js';
import { runHooks, type HookState } from '../spec-hooks.js';

function birth({ dir: bundleDir, execFifo, noNewKeyring, containerId, hookState, oci }: StartRequest): never {
  // 1. The bundle.
  const { spec, rootfs } = readBundle(bundleDir, { userNamespace: true }); // made before this stage started (user-namespace.ts)

  // 2. Existing namespaces config.json names by path (OCI), then new ones for this process (the
  //    PID namespace was arranged by the engine; cgroup waits).
  joinNamespaces(namespacesToJoin(spec));
  const flags = initStageUnshareFlags(spec);
  if (flags !== 0) unshare(flags);
  if (flags & CLONE.NEWNET) bringInterfaceUp('lo'); // a new network namespace's lo starts down

  // 3. The seam: the engine puts us in cgroups and wires the network, then says "go".
  sendToParent({ type: 'namespaces-ready' });
  const syscallFilter = prepareSyscallFilter(spec.linux?.seccomp, spec.annotations?.[SECCOMP_CACHE_ANNOTATION]); // while the engine works
  expect(receiveFromParent(), 'go');
  if (wantsCgroupNamespace(spec)) unshare(CLONE.NEWCGROUP); // rooted at the cgroup we are in now

  // 4. The file system: private propagation, the root (overlay), then config.json's mounts.
  //    (OCI without a mount namespace: in the host's, as runc — its propagation is left alone.)
  const ownMounts = wantsMountNamespace(spec);
  if (ownMounts) makeMountsPrivate();
  mountRootfs(spec, rootfs);
  mountConfigMounts(rootfs, spec.mounts ?? []);

  // 5. A terminal from the container's own devpts, and the device nodes.
  if (spec.process.terminal) {
    sendToParent({ type: 'devpts-ready', ptmx: `${rootfs}/dev/pts/ptmx` });
    const reply = expect(receiveFromParent(), 'pty');
    attachTerminal(rootfs, reply.number);
  }
  makeDevices(spec, rootfs, oci !== undefined);
  createDevSymlinks(rootfs);
  const heldFifo = execFifo ? holdExecFifo(execFifo) : undefined; // OCI create: unreachable after pivot_root
  if (hookState) runHooks(spec.hooks, 'createContainer', hookState); // OCI: in our namespaces, before pivot_root


  // 6. The image becomes `/`; the host's root is detached.
  if (!ownMounts) chrootIntoRootfs(rootfs); // OCI: no mount namespace asked for (rootfs.ts)
  else if (oci?.noPivot) moveIntoRootfs(rootfs); // OCI --no-pivot
  else pivotIntoRootfs(rootfs);
  applyRootfsPropagation(spec); // shared, slave, private, unbindable: pivot_root refuses a shared root

  // 7. Kernel files: sysctls first (they need a writable /proc/sys), then mask and freeze.
  applySysctls(spec.linux?.sysctl ?? {});
  maskPaths(spec.linux?.maskedPaths ?? []);
  makePathsReadonly(spec.linux?.readonlyPaths ?? []);

  // 8. Name, read-only root, working directory.
  if (spec.hostname) sethostname(spec.hostname);
  if (spec.root.readonly) makeRootReadonly();
  if (spec.process.user.umask !== undefined) process.umask(spec.process.user.umask); // the program inherits it
  enterWorkingDirectory(spec);

  // 9. The program, found in the container's own $PATH.
  const [name, ...rest] = spec.process.args as [string, ...string[]];
  const program = findProgram(name, spec.process.env);

  // 10. Who it runs as and what it may do (per thread: this main thread is the one that survives);
  //     its own session keyring; the seccomp filter (compiled in step 3) last. All of it before
  //     an OCI create's wait, as runc: a capability the kernel refuses fails `create`, not `start`.
  if (spec.process.capabilities) dropBoundingSet(spec.process.capabilities);
  // OCI create names the container itself (its bundle dir is anywhere); --no-new-keyring keeps the caller's
  if (!noNewKeyring) enterNewSessionKeyring(containerId ?? path.basename(bundleDir));
  prepareHandOver(); // fds and signals, while no seccomp filter can refuse the calls
  placePreservedFds(oci?.preserveFds ?? 0); // OCI --preserve-fds N: the caller's fds become 3…
  finalizePrivileges(spec.process, syscallFilter);
  if (heldFifo !== undefined) waitForStart(heldFifo); // OCI create: "created" until `start` (exec-fifo.ts)
  if (hookState) runHooks(spec.hooks, 'startContainer', { ...hookState, status: 'created' }); // OCI: in the container

  // 11–12. Only stdin, stdout and stderr (and preserved fds) cross into the program; Node is replaced by it.
  return handOverToProgram(program, name, rest, spec.process.env ?? []);
}

/**
 * The default nodes, then config.json's `linux.devices`: for `minibox run` the host's own nodes
 * bound in (devices.ts); for minibox-runc made with mknod, as runc (config-devices.ts) — except
 * in a user namespace, where the kernel refuses mknod of a device: there, as runc does, the
 * host's node at the same path is bound in (devices.ts), if the device rules let it open.
 */
function makeDevices(spec: RuntimeSpec, rootfs: string, oci: boolean): void {
  const rules = ((spec.linux?.resources ?? {}) as { devices?: DeviceRule[] }).devices ?? [];
  if (!oci || inUserNamespace()) {
    if (oci) assertDevicesOpen(spec.linux?.devices ?? [], rules);
    createDevices(rootfs, spec.linux?.devices);
    return;
  }
  const devices = spec.linux?.devices ?? [];
  createDevices(rootfs, [], devices.map((device) => path.posix.normalize(device.path)));
  makeConfigDevices(rootfs, devices, rules);
}

/** setns(2) into each; a mount namespace needs this thread's own fs_struct first (unshare CLONE_FS). */
function joinNamespaces(joins: { type: JoinedNamespace; path: string }[]): void {
  if (joins.length === 0) return;
  unshare(CLONE.FS);
  for (const { type, path: file } of joins) {
    const fd = fs.openSync(file, 'r');
    try {
      setns(fd, cloneFlag(type), file);
    } finally {
      fs.closeSync(fd);
    }
  }
}

function declareEverything(): void {
  declarePivotRootCalls();
  declareProcessCalls();
  declarePtyCalls();
  declareOpenat2Calls();
  declareNetdeviceCalls();
}

function expect<T extends ParentMessage['type']>(message: ParentMessage, type: T): Extract<ParentMessage, { type: T }> {
  if (message.type === 'abort') throw new Error(message.message);
  if (message.type !== type) throw new Error(`expected "${type}" from the engine, got "${message.type}"`);
  return message as Extract<ParentMessage, { type: T }>;
}

function enterWorkingDirectory(spec: RuntimeSpec): void {
  fs.mkdirSync(spec.process.cwd, { recursive: true, mode: 0o755 });
  process.chdir(spec.process.cwd);
  publishStep('chdir', { path: spec.process.cwd });
}

interface StartRequest {
  dir: string; execFifo?: string | undefined; noNewKeyring?: boolean | undefined; containerId?: string | undefined;
  hookState?: HookState | undefined; oci?: OciStart | undefined;
}

/** Step 0: the bundle from argv (detached start) or, for an early start, from the engine. */
function startRequest(argv: string[]): StartRequest {
  const fromArgv = argv.find((arg) => !arg.startsWith('--'));
  if (fromArgv) return { dir: fromArgv };
  let first: ParentMessage;
  try {
    first = receiveFromParent();
  } catch {
    process.exit(ExitCode.Engine); // the engine ended (Ctrl-C while it loaded): nothing was done here
  }
  const message = expect(first, 'bundle');
  forwardTraceEvents(message.trace);
  return { dir: message.dir, execFifo: message.execFifo, noNewKeyring: message.noNewKeyring, containerId: message.containerId, hookState: message.hookState, oci: message.oci };
}

try {
  // Before anything else: this host process is already visible in the container's PID namespace.
  forwardTraceEvents(process.argv); // only subscribes (a detached start): the first event is the next line's
  becomeNonDumpable(); // native/minibox-launch.c (CVE-2019-5736 class)
  // Declaring C functions is not container work: done while the engine still prepares the bundle.
  declareEverything();
  birth(startRequest(process.argv.slice(2)));
} catch (error) {
  failStage('init', error);
}
