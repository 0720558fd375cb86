/**
 * top-command.ts — `minibox top CONTAINER [ps OPTIONS]`, shaped like `docker top`.
 * Columns are aligned like Docker's tabwriter (at least 20 wide, 3 spaces of padding).
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox top web` → `UID … PID …
 * PPID … CMD … sleep 60`
 */
import type { Command } from 'commander';
import { containerTop } from '../../lifecycle/top.js';
import { contextOf, say } from '../context.js';

export function formatTopTable(titles: string[], rows: string[][]): string {
  const widths = titles.map((title, column) => Math.max(20, ...[title, ...rows.map((row) => row[column] ?? '')].map((cell) => cell.length + 3)));
  const line = (cells: string[]): string => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('');
  return [line(titles), ...rows.map(line)].join('\n');
}

export function registerTopCommand(program: Command): void {
  program
    .command('top')
    .description('Display the running processes of a container')
    .usage('CONTAINER [ps OPTIONS]')
    .argument('<container>', 'container name or id')
    .argument('[psOptions...]', 'options for ps (default: -ef)')
    .passThroughOptions()
    .allowUnknownOption()
    .action(async (container: string, psOptions: string[], _flags: object, cmd: Command) => {
      const top = await containerTop(contextOf(cmd).root, container, psOptions);
      say(formatTopTable(top.Titles, top.Processes));
    });
}
