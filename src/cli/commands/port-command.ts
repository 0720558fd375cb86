/**
 * port-command.ts — `minibox port CONTAINER [PRIVATE_PORT[/PROTO]]`, shaped like `docker port`:
 * which host ports lead into the container (`8080/tcp -> 0.0.0.0:18081`). Useful after
 * `-p 8080` or `-P`, where minibox chose the host port. The ports are read from the container's
 * network endpoint (src/network/attach.ts), so a stopped container has none.
 *
 * Try: `minibox run -d --name web -p 127.0.0.1:18081:80 busybox sleep 60 >/dev/null && minibox port
 * web` → `80/tcp -> 127.0.0.1:18081`
 */
import type { Command } from 'commander';
import { reconcileContainer } from '../../container/reconcile.js';
import { portLines } from '../../lifecycle/hooks/network-hooks.js';
import { findContainer } from '../../container/container-store.js';
import { contextOf, say } from '../context.js';

export function registerPortCommand(parent: Command): void {
  parent
    .command('port')
    .description('List port mappings of a container, or the host address of one private port')
    .usage('CONTAINER [PRIVATE_PORT[/PROTO]]')
    .argument('<container>', 'container name or id')
    .argument('[privatePort]', 'a container port, e.g. 8080 or 53/udp')
    .action(async (container: string, privatePort: string | undefined, _flags: object, cmd: Command) => {
      const { root } = contextOf(cmd);
      const found = findContainer(root, container);
      const record = (await reconcileContainer(root, found.Id)) ?? found; // a container that exited has no ports left
      for (const line of portLines(root, record, privatePort)) say(line);
    });
}
