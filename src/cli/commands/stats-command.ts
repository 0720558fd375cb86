/**
 * stats-command.ts — `minibox stats [--no-stream] [--format json] [CONTAINER...]`, shaped like
 * `docker stats`. Without names it shows every running container. By default it redraws every
 * second (clearing a terminal first) until Ctrl-C; `--no-stream` prints one table. CPU % needs
 * two samples, so even one table takes a second. The numbers come from src/engine/stats.ts.
 *
 * Try (cgroup v2): `minibox run -d --name web busybox sleep 60 >/dev/null && minibox stats
 * --no-stream web` → `CONTAINER ID … CPU % … MEM USAGE / LIMIT`
 */
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../../errors.js';
import { formatTable } from '../../format.js';
import {
  STATS_HEADER, assertStatsSupported, sampleContainer, statsCells, statsRow, statsTargets, type StatsSample,
} from '../../lifecycle/stats.js';
import { contextOf } from '../context.js';

const INTERVAL_MS = 1000;

interface StatsFlags {
  stream: boolean;
  format?: string;
}

export function registerStatsCommand(program: Command): void {
  program
    .command('stats')
    .description('Display a live stream of containers\' resource usage (cgroup v2)')
    .usage('[OPTIONS] [CONTAINER...]')
    .argument('[containers...]', 'container names or ids (default: all running containers)')
    .option('--no-stream', 'print one table and exit instead of redrawing every second')
    .option('--format <format>', "'table' (default) or 'json' (one JSON object per container and line)")
    .action(async (names: string[], flags: StatsFlags, cmd: Command) => {
      if (flags.format !== undefined && flags.format !== 'json' && flags.format !== 'table') {
        throw new UsageError(`unknown --format ${JSON.stringify(flags.format)}: use table or json`);
      }
      const { root } = contextOf(cmd);
      if (names.length > 0) await statsTargets(root, names); // "No such container" (exit 1) comes first, as in Docker
      assertStatsSupported();
      const redraw = flags.stream && process.stdout.isTTY && flags.format !== 'json';
      const sampleAll = async () => new Map((await statsTargets(root, names)).map((record) => [record.Id, sampleContainer(record)] as const));
      // Ctrl-C ends the stream (the default SIGINT action); each frame re-reads the container list.
      let previous: Map<string, StatsSample> = await sampleAll();
      for (;;) {
        await sleep(INTERVAL_MS);
        const now = await sampleAll();
        const rows = [...now.values()].map((sample) => statsRow(sample, previous.get(sample.record.Id)));
        const text = flags.format === 'json'
          ? rows.map((row) => JSON.stringify(row)).join('\n')
          : formatTable(STATS_HEADER, rows.map(statsCells));
        process.stdout.write(`${redraw ? '\x1b[2J\x1b[H' : ''}${text}${text ? '\n' : ''}`);
        if (!flags.stream) return;
        previous = now;
      }
    });
}
