/**
 * logs-command.ts — `minibox logs [-f] [--tail N] [-t] [--since T] CONTAINER`: the container's
 * output from its json-file log (lifecycle/logs.ts), stdout entries to stdout, stderr to stderr.
 *
 * Try: `minibox run -d --name box busybox echo hello >/dev/null && minibox wait box >/dev/null &&
 * minibox logs -t box` → `Z hello`
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { parseLogTime, readContainerLogs, type LogOptions } from '../../lifecycle/logs.js';
import { findContainer } from '../../container/container-store.js';
import { contextOf } from '../context.js';

interface LogsFlags { follow?: boolean; tail?: string; timestamps?: boolean; since?: string; until?: string }

export function registerLogsCommand(parent: Command): void {
  parent
    .command('logs')
    .description('Fetch the logs of a container')
    .argument('<container>', 'container name or id')
    .option('-f, --follow', 'follow log output until the container exits')
    .option('-n, --tail <N>', 'number of lines to show from the end of the logs (or "all")', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--since <time>', 'show logs since a time (2024-05-01T10:00:00Z) or for a duration (10m)')
    .option('--until <time>', 'show logs before a time or duration ago')
    .action(async (name: string, flags: LogsFlags, cmd: Command) => {
      const { root } = contextOf(cmd);
      const record = findContainer(root, name);
      const options: LogOptions = { follow: flags.follow ?? false };
      if (flags.tail !== undefined && flags.tail !== 'all') {
        if (!/^\d+$/.test(flags.tail)) throw new UsageError(`invalid value for --tail: ${flags.tail}: use a number or "all"`);
        options.tail = Number(flags.tail);
      }
      if (flags.since !== undefined) options.sinceMs = parseLogTime(flags.since);
      if (flags.until !== undefined) options.untilMs = parseLogTime(flags.until);
      await readContainerLogs(root, record.Id, options, (entry) => {
        const text = flags.timestamps ? `${entry.time} ${entry.log}` : entry.log;
        (entry.stream === 'stderr' ? process.stderr : process.stdout).write(text);
      });
    });
}
