/**
 * network-command.ts — `minibox network create|ls|rm|inspect`, shaped like `docker network`.
 * The work is in src/network/manage.ts.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { formatTable } from '../../format.js';
import { createUserNetwork, inspectNetwork, listAllNetworks, removeUserNetwork } from '../../network/index.js';
import { contextOf, say } from '../context.js';

export function registerNetworkCommands(program: Command): void {
  const network = program.command('network').description('Manage networks (Linux bridges with their own subnet)');

  network
    .command('create')
    .description('Create a user network; its containers reach each other by name')
    .option('--subnet <cidr>', 'IPv4 subnet, e.g. 172.30.5.0/24 (default: the next free /24 of 172.30.0.0/16)')
    .option('-d, --driver <driver>', 'network driver (only bridge)', 'bridge')
    .argument('<name>', 'network name')
    .action(async (name: string, flags: { subnet?: string; driver: string }, cmd: Command) => {
      if (flags.driver !== 'bridge') throw new UsageError(`network driver ${flags.driver} is not supported: only bridge`);
      const created = await createUserNetwork(contextOf(cmd).root, name, flags.subnet !== undefined ? { subnet: flags.subnet } : {});
      say(created.Id);
    });

  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-q, --quiet', 'only print network ids')
    .action(async (flags: { quiet?: boolean }, cmd: Command) => {
      const records = await listAllNetworks(contextOf(cmd).root);
      const rows = [
        ...records.map((n) => [n.Id.slice(0, 12), n.Name, n.Driver, 'local']),
        ['host', 'host', 'host', 'local'],
        ['none', 'none', 'null', 'local'],
      ].sort((a, b) => (a[1] ?? '').localeCompare(b[1] ?? ''));
      if (flags.quiet) {
        for (const row of rows) say(row[0] ?? '');
        return;
      }
      say(formatTable(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], rows));
    });

  network
    .command('inspect')
    .description('Show networks as JSON')
    .argument('<names...>', 'network names or ids')
    .action(async (names: string[], _flags: object, cmd: Command) => {
      const root = contextOf(cmd).root;
      const found: Record<string, unknown>[] = [];
      for (const name of names) found.push(await inspectNetwork(root, name));
      say(JSON.stringify(found, null, 4));
    });

  network
    .command('rm')
    .alias('remove')
    .description('Remove user networks (refused while containers are attached)')
    .argument('<names...>', 'network names or ids')
    .action(async (names: string[], _flags: object, cmd: Command) => {
      const root = contextOf(cmd).root;
      for (const name of names) {
        await removeUserNetwork(root, name);
        say(name);
      }
    });
}
