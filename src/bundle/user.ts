/**
 * user.ts — turning `-u app`, `-u 1000:users` or the image's `User` into numbers.
 *
 * The kernel knows only numeric ids: a process has a uid, a gid and a list of supplementary
 * groups. Names live in the *image's* /etc/passwd (`name:x:uid:gid:gecos:home:shell`) and
 * /etc/group (`name:x:gid:member,member`), never the host's: user 1000 on the host may be someone
 * else entirely. This follows runc/moby's `GetExecUser`:
 *   - `name` must exist in passwd; a bare number need not (uid N, gid 0, like Docker).
 *   - `:group` picks the primary group explicitly (name from /etc/group, or a number);
 *     without it the passwd gid is used and the user's /etc/group memberships become
 *     supplementary groups.
 *   - HOME comes from the passwd entry.
 *
 * Try: `minibox run --rm -u 4242 busybox id` → `uid=4242 gid=0(root)` (a number needs no passwd
 * entry) and `minibox run --rm -u nobody busybox id` → `uid=65534(nobody)`.
 */
import { MiniboxError } from '../errors.js';
import type { LayerStack } from './layer-view.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
  /** The passwd name, when the user was found there. */
  name?: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

const numeric = /^[0-9]+$/;

export function parsePasswd(text: string): PasswdEntry[] {
  return text.split('\n').flatMap((line) => {
    const fields = line.trim().split(':');
    if (line.trim() === '' || line.startsWith('#') || fields.length < 7) return [];
    const [name, , uid, gid, , home] = fields as [string, string, string, string, string, string];
    if (!numeric.test(uid) || !numeric.test(gid)) return [];
    return [{ name, uid: Number(uid), gid: Number(gid), home }];
  });
}

export function parseGroup(text: string): GroupEntry[] {
  return text.split('\n').flatMap((line) => {
    const fields = line.trim().split(':');
    if (line.trim() === '' || line.startsWith('#') || fields.length < 4) return [];
    const [name, , gid, members] = fields as [string, string, string, string];
    if (!numeric.test(gid)) return [];
    return [{ name, gid: Number(gid), members: members.split(',').map((m) => m.trim()).filter((m) => m !== '') }];
  });
}

/** Checks the shape of a `-u` value without an image (so bad input fails before a pull). */
export function validateUserSpec(spec: string): void {
  const [user, group, ...rest] = spec.split(':');
  if (rest.length > 0 || user === '' || group === '' || /\s/.test(spec)) {
    throw new MiniboxError(`invalid user "${spec}": use user, uid, user:group or uid:gid`);
  }
}

/**
 * Resolves `spec` (empty = root) against the image's /etc/passwd and /etc/group.
 * `files` can be a LayerStack (the image before it is mounted) or anything that reads image files.
 */
export function resolveUser(spec: string | undefined, files: Pick<LayerStack, 'readFile'>): ResolvedUser {
  const text = (spec ?? '').trim();
  if (text !== '') validateUserSpec(text);
  const [userPart = '', groupPart] = text === '' ? ['0'] : text.split(':');
  const passwd = parsePasswd(files.readFile('/etc/passwd') ?? '');
  const match = numeric.test(userPart)
    ? passwd.find((entry) => entry.uid === Number(userPart))
    : passwd.find((entry) => entry.name === userPart);
  if (!match && !numeric.test(userPart)) {
    throw new MiniboxError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  const uid = match?.uid ?? Number(userPart);
  let gid = match?.gid ?? 0;
  let additionalGids: number[] = [];
  if (groupPart !== undefined || match) {
    const groups = parseGroup(files.readFile('/etc/group') ?? '');
    if (groupPart !== undefined) {
      const group = numeric.test(groupPart) ? undefined : groups.find((entry) => entry.name === groupPart);
      if (!numeric.test(groupPart) && !group) {
        throw new MiniboxError(`unable to find group ${groupPart}: no matching entries in group file`);
      }
      gid = group?.gid ?? Number(groupPart);
    } else if (match) {
      // Supplementary groups only come with the implicit form, as in runc/moby.
      additionalGids = [...new Set(groups.filter((entry) => entry.members.includes(match.name)).map((entry) => entry.gid))];
    }
  }
  const home = match?.home || (uid === 0 ? '/root' : '/');
  return { uid, gid, additionalGids, home, ...(match ? { name: match.name } : {}) };
}
