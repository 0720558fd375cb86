/**
 * network-command.ts — `minibox network create|ls|rm|inspect|prune`, shaped like `docker network`.
 * The work is in src/network/manage.ts.
 *
 * Try: `minibox network ls` → `NETWORK ID … NAME … DRIVER … SCOPE`
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { formatTable } from '../../format.js';
import { createUserNetwork, inspectNetwork, listAllNetworks, pruneNetworks, removeUserNetwork } from '../../network/index.js';
import { confirm, contextOf, say } from '../context.js';
import { renderGoTemplate, renderRows } from '../go-template.js';
import { withExplainFlags } from '../explain-flags.js';

export function registerNetworkCommands(program: Command): void {
  const network = program.command('network').description('Manage networks (Linux bridges with their own subnet)');

  withExplainFlags(network
    .command('create')
    .description('Create a user network; its containers reach each other by name')
    .option('--subnet <cidr>', 'IPv4 subnet, e.g. 172.30.5.0/24 (default: the next free /24 of 172.30.0.0/16)')
    .option('-d, --driver <driver>', 'network driver (only bridge)', 'bridge')
    .argument('<name>', 'network name')
    .action(async (name: string, flags: { subnet?: string; driver: string }, cmd: Command) => {
      if (flags.driver !== 'bridge') throw new UsageError(`network driver ${flags.driver} is not supported: only bridge`);
      const created = await createUserNetwork(contextOf(cmd).root, name, flags.subnet !== undefined ? { subnet: flags.subnet } : {});
      say(created.Id);
    }), 'the network\'s creation');

  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-q, --quiet', 'only print network ids')
    .option('--no-trunc', "don't truncate network ids")
    .option('--format <format>', "'table', 'table TEMPLATE', 'json' or a Go TEMPLATE, e.g. '{{.Name}}'")
    .action(async (flags: { quiet?: boolean; trunc: boolean; format?: string }, cmd: Command) => {
      const records = await listAllNetworks(contextOf(cmd).root);
      const rows = [
        ...records.map((n) => [flags.trunc === false ? n.Id : n.Id.slice(0, 12), n.Name, n.Driver, 'local']),
        ['host', 'host', 'host', 'local'],
        ['none', 'none', 'null', 'local'],
      ].sort((a, b) => (a[1] ?? '').localeCompare(b[1] ?? ''));
      if (flags.quiet) {
        for (const row of rows) say(row[0] ?? '');
        return;
      }
      if (flags.format !== undefined && flags.format !== 'table') {
        const fields = rows.map(([ID, Name, Driver, Scope]) => ({ ID, Name, Driver, Scope, IPv6: 'false', Internal: 'false', Labels: '' }));
        const headers = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS' };
        for (const line of renderRows(flags.format, fields, headers)) say(line);
        return;
      }
      say(formatTable(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], rows));
    });

  network
    .command('inspect')
    .description('Show networks as JSON')
    .argument('<names...>', 'network names or ids')
    .option('-f, --format <template>', "format the output with a Go template, e.g. '{{json .IPAM}}'")
    .action(async (names: string[], flags: { format?: string }, cmd: Command) => {
      const root = contextOf(cmd).root;
      const found: Record<string, unknown>[] = [];
      for (const name of names) found.push(await inspectNetwork(root, name));
      if (flags.format !== undefined) for (const network of found) say(renderGoTemplate(flags.format, network));
      else say(JSON.stringify(found, null, 4));
    });

  withExplainFlags(network
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
    }), 'the network\'s removal');

  withExplainFlags(network
    .command('prune')
    .description('Remove unused networks, and take the default bridge down while no container is on it')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (flags: { force?: boolean }, cmd: Command) => {
      const warning = 'WARNING! This will remove all custom networks not used by at least one container.\n'
        + 'The default bridge, its firewall rules and ip_forward are given back to the host if no container uses them.';
      if (!flags.force && !(await confirm(`${warning}\nAre you sure you want to continue? [y/N] `))) return;
      const removed = await pruneNetworks(contextOf(cmd).root);
      if (removed.length === 0) return;
      say('Deleted Networks:');
      for (const name of removed) say(name);
    }), 'the networks\' removal');
}
