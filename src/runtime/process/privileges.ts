/**
 * privileges.ts — who the container's program runs as, and with which privileges.
 *
 * Linux checks two things on most privileged operations: the user id (0 = root) and the
 * thread's *capabilities*, root's power split into ~41 bits. A container runs as root by default
 * but keeps only Docker's 14 capabilities, so "root" inside cannot mount, load modules or change
 * the clock. The order matters (runc's finalizeNamespace does the same):
 *   0. PR_SET_DUMPABLE 0, the stage's very first call — long before 1–4, which hand the stage
 *      the container's own privileges while it still runs host code (CVE-2019-5736 class).
 *   1. PR_CAPBSET_DROP each capability outside the bounding set — the ceiling no exec can exceed.
 *      (Needs CAP_SETPCAP, so it happens while we still have everything.)
 *   2. PR_SET_KEEPCAPS, then setgroups / setresgid / setresuid — changing uid away from 0 would
 *      otherwise wipe the permitted set.
 *   3. capset: the final effective, permitted and inheritable sets; then raise the ambient ones
 *      (ambient capabilities survive execve for non-root users).
 *   4. PR_SET_NO_NEW_PRIVS: no later execve may gain privileges (setuid binaries, file caps).
 *   5. the seccomp filter (syscall-filter.ts), last — or, when config.json does not ask for
 *      no_new_privs, first: the kernel then lets only CAP_SYS_ADMIN load a filter.
 *      `finalizePrivileges` runs 2–5 in this order for the init stage; the C exec stage
 *      (native/minibox-exec.c) makes the same calls in the same order, with the arguments the
 *      engine worked out here (capabilitiesToDrop, ambientToRaise: runtime/exec-plan.ts).
 * All of these act on the calling thread: the init stage runs them on Node's main thread, the
 * one that calls execve and becomes the container's program.
 *
 * Try: `minibox run --rm -u 4242 busybox grep -E 'CapEff|NoNewPrivs' /proc/self/status` → `CapEff:
 * 0000000000000000 … NoNewPrivs: 1` (a non-root user keeps no effective capability).
 */
import fs from 'node:fs';
import { capset, prctl, PR, setgroups, setresgid, setresuid } from '../../sys/process.js';
import { publishStep } from '../../sys/trace.js';
import { CAPABILITY_NUMBERS } from '../../bundle/docker-defaults.js';
import type { SpecCapabilities, SpecProcess, SpecUser } from '../../bundle/oci-bundle.js';
import type { PreparedSyscallFilter } from './syscall-filter.js';

/** `['CAP_CHOWN', 'CAP_KILL']` → a bit mask; an unknown name is an error naming it. */
export function capabilityMask(names: string[] = []): bigint {
  let mask = 0n;
  for (const name of names) {
    const number = CAPABILITY_NUMBERS[name.toUpperCase()];
    if (number === undefined) throw new Error(`unknown capability ${name} in config.json`);
    mask |= 1n << BigInt(number);
  }
  return mask;
}

export function lastCapability(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  } catch {
    return 40;
  }
}

/** A capability by number and name (CAP_SYS_ADMIN is 21). */
export interface NamedCapability { number: number; name: string }

function capabilityName(cap: number): string {
  return Object.keys(CAPABILITY_NUMBERS).find((key) => CAPABILITY_NUMBERS[key] === cap) ?? String(cap);
}

/** Every capability outside the bounding set, up to the kernel's last one (cap_last_cap). */
export function capabilitiesToDrop(capabilities: SpecCapabilities, last = lastCapability()): NamedCapability[] {
  const keep = capabilityMask(capabilities.bounding);
  const drop: NamedCapability[] = [];
  for (let cap = 0; cap <= last; cap++) {
    if ((keep & (1n << BigInt(cap))) === 0n) drop.push({ number: cap, name: capabilityName(cap) });
  }
  return drop;
}

/** Step 1: shrink the bounding set. */
export function dropBoundingSet(capabilities: SpecCapabilities, last = lastCapability()): void {
  for (const { number, name } of capabilitiesToDrop(capabilities, last)) prctl(PR.CAPBSET_DROP, number, 0, { capability: name });
}

/** Step 2: become process.user (groups first: after setresgid we may no longer be allowed). */
export function switchUser(user: SpecUser): void {
  prctl(PR.SET_KEEPCAPS, 1);
  setgroups(user.additionalGids ?? []);
  setresgid(user.gid);
  setresuid(user.uid);
  prctl(PR.SET_KEEPCAPS, 0);
}

/** Step 3: the final capability sets, then the ambient ones. */
export function applyCapabilities(capabilities: SpecCapabilities): void {
  capset({
    effective: capabilityMask(capabilities.effective),
    permitted: capabilityMask(capabilities.permitted),
    inheritable: capabilityMask(capabilities.inheritable),
  }, {
    effective: (capabilities.effective ?? []).join(',') || '(none)',
    permitted: (capabilities.permitted ?? []).join(',') || '(none)',
    inheritable: (capabilities.inheritable ?? []).join(',') || '(none)',
  });
  prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL, 0, { action: 'clear all' });
  for (const { number, name } of ambientToRaise(capabilities)) prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, number, { raise: name });
}

/**
 * The ambient capabilities to raise. The kernel raises one only if it is both permitted and
 * inheritable (EPERM otherwise). `runc spec` lists ambient ones without inheritable; runc then
 * leaves them out (CapAmb 0), and so does minibox — named in the trace, not fatal.
 */
export function ambientToRaise(capabilities: SpecCapabilities): NamedCapability[] {
  const allowed = capabilityMask(capabilities.permitted) & capabilityMask(capabilities.inheritable);
  const raise: NamedCapability[] = [];
  for (const name of capabilities.ambient ?? []) {
    const mask = capabilityMask([name]);
    if ((allowed & mask) === 0n) {
      publishStep('skip-ambient', { capability: name, reason: 'not in both permitted and inheritable' });
      continue;
    }
    raise.push({ number: mask.toString(2).length - 1, name });
  }
  return raise;
}

/** Step 4: no execve after this one can grant more privileges. */
/**
 * prctl(PR_SET_DUMPABLE, 0): no core dumps, and — what matters here — ptrace_may_access() now
 * refuses other processes without CAP_SYS_PTRACE: no PTRACE_ATTACH, no open of /proc/PID/exe,
 * mem, environ, fd/… (runc CVE-2019-5736 class; native/minibox-launch.c tells the whole story).
 * execve(2) of a readable program makes it dumpable again: the container's program is unaffected.
 */
export function becomeNonDumpable(): void {
  prctl(PR.SET_DUMPABLE, 0);
}

export function setNoNewPrivileges(): void {
  prctl(PR.SET_NO_NEW_PRIVS, 1);
}

/**
 * Steps 2–5 in runc's order (standard_init_linux.go): without no_new_privs the filter goes first,
 * while CAP_SYS_ADMIN is still there; with it, last, so that the fewest calls run under it.
 */
export function finalizePrivileges(
  process: Pick<SpecProcess, 'user' | 'capabilities' | 'noNewPrivileges'>, filter: PreparedSyscallFilter | undefined,
): void {
  if (filter && !process.noNewPrivileges) filter.load();
  switchUser(process.user);
  if (process.capabilities) applyCapabilities(process.capabilities);
  if (process.noNewPrivileges) setNoNewPrivileges();
  if (filter && process.noNewPrivileges) filter.load();
}
