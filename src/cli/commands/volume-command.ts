/**
 * volume-command.ts — `minibox volume create|ls|rm|inspect`, shaped like `docker volume`.
 * The work is in src/engine/volumes.ts.
 *
 * Try: `minibox volume create notes && minibox volume ls` → `DRIVER … VOLUME NAME … local … notes`
 */
import type { Command } from 'commander';
import { NotFoundError } from '../../errors.js';
import { VolumeStore } from '../../bundle/volumes.js';
import { formatTable } from '../../format.js';
import { contextOf, say } from '../context.js';

export function registerVolumeCommands(program: Command): void {
  const volume = program.command('volume').description('Manage named volumes');

  volume
    .command('create')
    .description('Create a volume (a random name when none is given)')
    .argument('[name]', 'volume name')
    .action(async (name: string | undefined, _flags: object, cmd: Command) => {
      const created = await new VolumeStore(contextOf(cmd).root).create(name);
      say(created.Name);
    });

  volume
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('-q, --quiet', 'only print volume names')
    .action((flags: { quiet?: boolean }, cmd: Command) => {
      const volumes = new VolumeStore(contextOf(cmd).root).list();
      if (flags.quiet) {
        for (const v of volumes) say(v.Name);
        return;
      }
      say(formatTable(['DRIVER', 'VOLUME NAME'], volumes.map((v) => [v.Driver, v.Name])));
    });

  volume
    .command('inspect')
    .description('Show volumes as JSON')
    .argument('<names...>', 'volume names')
    .action((names: string[], _flags: object, cmd: Command) => {
      const store = new VolumeStore(contextOf(cmd).root);
      const found = names.map((name) => {
        const record = store.get(name);
        if (!record) throw new NotFoundError(`get ${name}: no such volume`);
        return record;
      });
      say(JSON.stringify(found, null, 4));
    });

  volume
    .command('rm')
    .alias('remove')
    .description('Remove volumes (refused while a container uses one)')
    .argument('<names...>', 'volume names')
    .action(async (names: string[], _flags: object, cmd: Command) => {
      const store = new VolumeStore(contextOf(cmd).root);
      for (const name of names) {
        await store.remove(name);
        say(name);
      }
    });
}
