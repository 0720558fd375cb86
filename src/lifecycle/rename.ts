/**
 * rename.ts — `minibox rename OLD NEW`: a container's name is one field of its record.
 *
 * Names are unique, so a rename is a claim, like a create: under the names lock (lock.ts), the
 * new name is checked free and written, and no `create --name NEW` can slip in between. The id,
 * the hostname and the files stay; on a user network the other members' /etc/hosts learn the
 * new name (network/attach.ts), as Docker's embedded DNS does. Failures exit 1 (Docker's CLI
 * reports the daemon's refusal so).
 *
 * Try: `minibox create --name a IMAGE true && minibox rename a b && minibox ps -a --format '{{.Names}}'` → `b`.
 */
import { MiniboxError, describeError } from '../errors.js';
import type { StateRoot } from '../state-root.js';
import { ContainerStore } from '../container/container-store.js';
import { validateContainerName } from '../container/container-id.js';
import { renameEndpoints } from '../network/attach.js';

export async function renameContainer(root: StateRoot, given: string, newName: string): Promise<void> {
  const store = new ContainerStore(root);
  const record = store.resolve(given);
  if (!record) throw new MiniboxError(`No such container: ${given}`, 1);
  let name: string;
  try {
    name = validateContainerName(newName);
  } catch (error) {
    throw new MiniboxError(describeError(error), 1);
  }
  if (`/${name}` === record.Name) throw new MiniboxError('Renaming a container with the same name as its current name', 1);
  await store.rename(record.Id, name, 1);
  await renameEndpoints(root, record.Id, name);
}
