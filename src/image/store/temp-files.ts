/**
 * temp-files.ts — which entries of `<root>/tmp/` were left by a process that died.
 *
 * Everything the store builds is built in tmp/ and renamed into place (docs/state.md), so a
 * `kill -9` leaves its work in progress there. Whether an entry is still someone's work is
 * decided the way the kernel would: by what it keeps for living processes only.
 *   - a lock: `blob-<hex>.partial` is written holding the blob's lock, `layer-<hex>-XXXXXX/`
 *     (an unpack) holding the layer's; the kernel drops a lock when its holder dies;
 *   - a process: `layer-write-<pid>-…`, `import-<pid>-…`, `load-<pid>-…`, `export-<pid>-…`,
 *     `build-{from,copy,workdir}-<pid>-…`, `build-context-<pid>-…` (the API's build contexts) and
 *     `deleting-<hex>-<pid>` name their writer; a name whose pid is gone is abandoned (a pid
 *     reused since only keeps the entry until the next check: never a wrong deletion);
 *   - a mount: `export-…` and `build-from-…` hold an overlay while they are read.
 * An entry named in none of these ways (left by an older minibox) has no owner: abandoned.
 * `system fsck --repair` and garbage collection remove what is abandoned; whatever a live
 * process is writing is never touched.
 *
 * Try: `minibox rmi busybox $IMAGE >/dev/null; MINIBOX_TEST_CRASH_AT=blob:downloaded minibox pull
 * -q $IMAGE; ls $MINIBOX_ROOT/tmp` → `blob-….partial` (the next pull resumes from it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ifLockFree } from '../../lock.js';
import { readMountInfo } from '../../mountinfo.js';
import type { StateRoot } from '../../state-root.js';
import { blobLockName } from './blobs.js';

/** The lock an entry's writer holds, or the pid in its name. */
function ownerOf(name: string): { lock: string } | { pid: number } | undefined {
  let match = /^blob-([a-f0-9]{64})\.partial$/.exec(name);
  if (match) return { lock: blobLockName(`sha256:${match[1]}`) };
  match = /^layer-([a-f0-9]{64})-[A-Za-z0-9]{6}$/.exec(name);
  if (match) return { lock: `layer-sha256:${match[1]}` };
  match = /^(?:layer-write|import|load|export|build-from|build-copy|build-workdir|build-context)-(\d+)-/.exec(name) ?? /^deleting-[a-f0-9]{64}-(\d+)$/.exec(name);
  if (match) return { pid: Number(match[1]) };
  return undefined;
}

/** Paths under tmp/ that no living process is working on. */
export async function abandonedTemps(root: StateRoot): Promise<string[]> {
  if (!fs.existsSync(root.tmp)) return [];
  const mounted = readMountInfo().map((entry) => entry.mountPoint);
  const abandoned: string[] = [];
  for (const name of fs.readdirSync(root.tmp)) {
    const file = path.join(root.tmp, name);
    if (mounted.some((target) => target === file || target.startsWith(`${file}/`))) continue;
    const owner = ownerOf(name);
    if (owner && 'pid' in owner && fs.existsSync(`/proc/${owner.pid}`)) continue;
    if (owner && 'lock' in owner && (await ifLockFree(root.locks, owner.lock, async () => true)).busy) continue;
    abandoned.push(file);
  }
  return abandoned;
}
