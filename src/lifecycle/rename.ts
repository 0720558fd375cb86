/**
 * rename.ts — `minibox rename OLD NEW`: a container's name is one field of its record.
 *
 * Names are unique, so a rename is a claim, like a create: under the names lock (lock.ts), the
 * new name is checked free and written, and no `create --name NEW` can slip in between. The id,
 * the hostname and the files stay; on a user network the other members' /etc/hosts learn the
 * new name (network/attach.ts), as Docker's embedded DNS does. Failures exit 1 (Docker's CLI
 * reports the daemon's refusal so).
 *
 * Try: `minibox create --name aa busybox true >/dev/null && minibox rename aa bb && minibox ps -a
 * --format 'name={{.Names}}'` → `name=bb`
 */
import { describeError, ExitCode, VerbError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { ContainerStore, findContainer } from '../container/container-store.js';
import { validateContainerName } from '../container/container-id.js';
import { renameEndpoints } from '../network/attach.js';
import { recordContainerEvent } from '../events/event-log.js';

export async function renameContainer(root: StateRoot, given: string, newName: string): Promise<void> {
  const store = new ContainerStore(root);
  const record = findContainer(root, given);
  let name: string;
  try {
    name = validateContainerName(newName);
  } catch (error) {
    throw new VerbError(describeError(error));
  }
  if (`/${name}` === record.Name) throw new VerbError('Renaming a container with the same name as its current name');
  const renamed = await store.rename(record.Id, name, ExitCode.VerbFailed);
  await renameEndpoints(root, record.Id, name);
  recordContainerEvent(root, renamed, 'rename', { oldName: record.Name });
}
