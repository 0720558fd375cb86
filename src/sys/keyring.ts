/**
 * keyring.ts — keyctl(2), the kernel's key store: passwords, Kerberos tickets, fscrypt and
 * NFS keys that programs park in the kernel and find again by keyring.
 *
 * Every process has a *session keyring* (`@s`), inherited across fork and execve. Keyrings are not
 * a namespace: a container started from a root shell would share that shell's session keyring,
 * and could read or link the keys the host's root put there. runc therefore makes each container
 * join a fresh, named session keyring: keyctl(KEYCTL_JOIN_SESSION_KEYRING, "_ses.<id>") creates it
 * (or joins the one of that name the caller may search) and makes it the caller's `@s`.
 *
 * glibc has no wrapper (libkeyutils has), so the call goes through syscall(2).
 *
 * Try: `minibox run -d --name kr busybox sleep 60 >/dev/null && grep -c " _ses.$(minibox inspect
 * --format '{{.Id}}' kr)" /proc/keys` → `1` (`/proc/keys` lists every key you may view; inside a
 * container it is masked: runtime/process/session-keyring.ts).
 */
import { libc } from './libc.js';
import { invoke } from './call.js';

const SYS_keyctl: Record<string, number> = { x64: 250, arm64: 219 };

const KEYCTL = { JOIN_SESSION_KEYRING: 1, SETPERM: 5, DESCRIBE: 6 } as const;

function keyctlNumber(): number {
  const nr = SYS_keyctl[process.arch];
  if (nr === undefined) throw new Error(`keyctl: unsupported architecture ${process.arch}`);
  return nr;
}

/** KEYCTL_JOIN_SESSION_KEYRING: join (or create) the session keyring `name`; returns its id. */
export function joinSessionKeyring(name: string): number {
  return invoke('keyctl', { operation: 'KEYCTL_JOIN_SESSION_KEYRING', name },
    () => libc.syscall()(keyctlNumber(), 'int', KEYCTL.JOIN_SESSION_KEYRING, 'str', name), { what: `join session keyring ${name}` });
}

/** KEYCTL_DESCRIBE: `type;uid;gid;perm;description` of a key. */
export function describeKey(id: number): string {
  const buffer = Buffer.alloc(512);
  const length = invoke('keyctl', { operation: 'KEYCTL_DESCRIBE', id },
    () => libc.syscall()(keyctlNumber(), 'int', KEYCTL.DESCRIBE, 'int', id, 'void *', buffer, 'size_t', buffer.length));
  return buffer.subarray(0, Math.max(0, Math.min(length, buffer.length) - 1)).toString('utf8');
}

/** KEYCTL_SETPERM: a key's permission mask (possessor, user, group, other; 8 bits each). */
export function setKeyPermissions(id: number, permissions: number): void {
  invoke('keyctl', { operation: 'KEYCTL_SETPERM', id, permissions: `0x${permissions.toString(16)}` },
    () => libc.syscall()(keyctlNumber(), 'int', KEYCTL.SETPERM, 'int', id, 'uint32_t', permissions));
}
