/**
 * session-keyring.ts — every container gets its own session keyring, as with runc.
 *
 * Without it, a container started from a root shell inherits that shell's session keyring: the
 * same keyring id as the host's `@s`, and, as its possessor, the right to read, link and search
 * the keys the host's root keeps there (kernel keyrings are not namespaced; Docker's seccomp
 * profile refuses keyctl too, but `--security-opt seccomp=unconfined` or a custom profile may
 * allow it). runc's answer (libcontainer/standard_init_linux.go) is followed step for step:
 *   - the init stage joins a new keyring named `_ses.<container id>` and adds "search" for its
 *     owner (KEY_USR_SEARCH, 0x80000), so that later processes of the container can find it;
 *   - `minibox exec` joins the container's keyring by that name (setns_init_linux.go; in C:
 *     native/minibox-exec.c) — it does not create a new one unless the container's is gone;
 *   - ENOSYS (a kernel without keyrings, or a seccomp profile of an outer container returning
 *     ENOSYS) is not an error: the keyring is a defence in depth, not the main wall.
 *
 * Try: `minibox run -d --name kr busybox sleep 60 >/dev/null && grep " _ses.$(minibox inspect
 * --format '{{.Id}}' kr)" /proc/keys` → `keyring _ses.` (the container's own session keyring,
 * seen from the host).
 */
import { describeKey, joinSessionKeyring, setKeyPermissions } from '../../sys/keyring.js';
import { SysError } from '../../sys/errno.js';

const KEY_USR_SEARCH = 0x00080000;

/** The keyring's name for a container id (runc's getSessionRingName). */
export function sessionKeyringName(containerId: string): string {
  return `_ses.${containerId}`;
}

/** Joins `name`; returns its id, or undefined where the kernel has no keyrings. */
function join(name: string): number | undefined {
  try {
    return joinSessionKeyring(name);
  } catch (error) {
    if (error instanceof SysError && error.code === 'ENOSYS') return undefined;
    throw error;
  }
}

/** The init stage: a fresh session keyring, searchable by its owner. */
export function enterNewSessionKeyring(containerId: string): void {
  const id = join(sessionKeyringName(containerId));
  if (id === undefined) return;
  const [, , , permissions] = describeKey(id).split(';'); // type;uid;gid;perm;description
  setKeyPermissions(id, (Number.parseInt(permissions ?? '0', 16) | KEY_USR_SEARCH) >>> 0);
}
