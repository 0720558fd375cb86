/**
 * system-command.ts — `minibox system fsck|df|prune`: the state root as a whole.
 *
 *   system fsck [--repair] [--format json]   check the store and what minibox left in the kernel
 *                                            against docs/state.md; exit 0 clean, 1 findings
 *   system df [-v]                           Docker's TYPE/TOTAL/ACTIVE/SIZE/RECLAIMABLE, and with
 *                                            -v per image, container, volume and shared layer
 *   system prune [-a] [--volumes] [-f]       stopped containers, unused networks, dangling (or
 *                                            all unused) images, anonymous volumes
 *   system restore                           after a boot: start the containers whose --restart
 *                                            policy says so, as dockerd does when it starts
 * The work is in src/system/; this file parses and prints.
 *
 * Try: `minibox system df` → `TYPE … TOTAL … ACTIVE … SIZE … RECLAIMABLE … Images 1`
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { formatAgo, formatBytes, formatTable } from '../../format.js';
import { shortId } from '../../image/digest.js';
import { parseReference } from '../../image/reference.js';
import { diskUsageReport, type DiskUsageReport } from '../../system/disk-usage.js';
import type { FindingReport } from '../../system/finding.js';
import { fsck } from '../../system/fsck.js';
import { pruneSystem, pruneWarning } from '../../system/prune.js';
import { statusText } from './ps-command.js';
import { confirm, contextOf, say } from '../context.js';

function printFindings(findings: FindingReport[], repaired: boolean): void {
  const width = Math.max(...findings.map((f) => f.area.length));
  for (const finding of findings) {
    say(`${finding.area.padEnd(width)}  ${finding.subject}: ${finding.problem}`);
    const outcome = !repaired ? `--repair would ${finding.repair}` : finding.repaired ? `repaired: ${finding.repair}` : `NOT repaired (${finding.error}): ${finding.repair}`;
    say(`${' '.repeat(width)}  → ${outcome}`);
  }
}

function registerFsck(system: Command): void {
  system.command('fsck')
    .description('Check the image store, containers, mounts, cgroups and networks for what crashes left behind')
    .option('--repair', 'fix what is found (delete leftovers, re-extract damaged layers, settle ghost containers)')
    .option('--format <format>', "'table' (default) or 'json'")
    .addHelpText('after', `
Examples:
  minibox system fsck                    list problems; exit 0 when clean, 1 when not
  minibox system fsck --repair           fix them, then check again
  minibox system fsck --format json      one JSON object: findings and what remains`)
    .action(async (options: { repair?: boolean; format?: string }, command: Command) => {
      if (options.format !== undefined && options.format !== 'json' && options.format !== 'table') {
        throw new UsageError(`unknown --format ${JSON.stringify(options.format)}: use table or json`);
      }
      const { root } = contextOf(command);
      const result = await fsck(root, { repair: options.repair === true });
      process.exitCode = result.remaining.length === 0 ? 0 : 1;
      if (options.format === 'json') {
        say(JSON.stringify({ root: root.dir, clean: result.remaining.length === 0, findings: result.findings, remaining: result.remaining }, null, 2));
        return;
      }
      if (result.findings.length === 0) {
        say(`No problems found in ${root.dir}.`);
        return;
      }
      printFindings(result.findings, options.repair === true);
      const count = `${result.findings.length} problem${result.findings.length === 1 ? '' : 's'} found`;
      if (!options.repair) say(`\n${count}; run \`minibox system fsck --repair\` to fix them.`);
      else if (result.remaining.length === 0) say(`\n${count} and repaired; ${root.dir} is clean now.`);
      else say(`\n${count}; ${result.remaining.length} remain after repair (see above).`);
    });
}

function percent(part: number, whole: number): string {
  return whole > 0 ? ` (${Math.round((part / whole) * 100)}%)` : '';
}

function familiar(tag: string): { repository: string; tag: string } {
  const ref = parseReference(tag);
  return { repository: ref.familiar.replace(/:[^:/]*$/, ''), tag: ref.tag ?? '<none>' };
}

function printVerbose(report: DiskUsageReport, now: number): void {
  say('Images space usage:\n');
  say(formatTable(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'], report.images.map((usage) => {
    const name = usage.image.repoTags[0] ? familiar(usage.image.repoTags[0]) : { repository: '<none>', tag: '<none>' };
    return [name.repository, name.tag, shortId(usage.image.id), formatAgo(usage.image.created, now), formatBytes(usage.size), formatBytes(usage.sharedSize), formatBytes(usage.uniqueSize), String(usage.containers)];
  })));
  say('\nContainers space usage:\n');
  say(formatTable(['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'], report.containers.map(({ record, size, volumes }) => [
    record.Id.slice(0, 12), record.Image, JSON.stringify([record.Path, ...record.Args].join(' ').slice(0, 20)), String(volumes), formatBytes(size),
    formatAgo(record.Created, now), statusText(record, now), record.Name.replace(/^\//, ''),
  ])));
  say('\nLocal Volumes space usage:\n');
  say(formatTable(['VOLUME NAME', 'LINKS', 'SIZE'], report.volumes.map((v) => [v.name, String(v.links), formatBytes(v.size)])));
  say('\nLayers space usage (each layer is on disk once, however many images and containers stack it):\n');
  say(formatTable(['LAYER', 'SIZE', 'IMAGES', 'CONTAINERS'], report.layers.map((l) => [shortId(l.diffId), formatBytes(l.size), String(l.images.length), String(l.containers.length)])));
  const cache = report.summary.find((row) => row.type === 'Build Cache');
  say(`\nBuild cache usage: ${formatBytes(cache?.size ?? 0)} (${cache?.total ?? 0} cached steps)`);
}

function registerDf(system: Command): void {
  system.command('df')
    .description('Show disk usage: images, containers, volumes, and the layers they share')
    .option('-v, --verbose', 'per image, container, volume and layer')
    .option('--format <format>', "'table' (default) or 'json'")
    .addHelpText('after', `
Examples:
  minibox system df                      four rows, as docker system df
  minibox system df -v                   and every image, container, volume and shared layer
  minibox system df --format json        everything, in bytes`)
    .action(async (options: { verbose?: boolean; format?: string }, command: Command) => {
      const report = await diskUsageReport(contextOf(command).root);
      if (options.format === 'json') {
        say(JSON.stringify({ summary: report.summary, layers: report.layers, images: report.images.map((i) => ({ ...i, image: i.image.id })), containers: report.containers.map((c) => ({ id: c.record.Id, size: c.size, volumes: c.volumes })), volumes: report.volumes }, null, 2));
        return;
      }
      if (options.format !== undefined && options.format !== 'table') throw new UsageError(`unknown --format ${JSON.stringify(options.format)}: use table or json`);
      if (options.verbose) {
        printVerbose(report, Date.now());
        return;
      }
      say(formatTable(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], report.summary.map((row) => [
        row.type, String(row.total), String(row.active), formatBytes(row.size), `${formatBytes(row.reclaimable)}${row.type === 'Containers' || row.type === 'Build Cache' ? '' : percent(row.reclaimable, row.size)}`,
      ])));
    });
}

function registerPrune(system: Command): void {
  system.command('prune')
    .description('Remove stopped containers, unused networks, dangling images (and more with -a, --volumes)')
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .option('--volumes', 'prune anonymous volumes')
    .option('-f, --force', 'do not prompt for confirmation')
    .addHelpText('after', `
Examples:
  minibox system prune                   asks first, then removes what nothing uses
  minibox system prune -af --volumes     everything unused, without asking
  echo y | minibox system prune          the answer is read from stdin, as Docker does`)
    .action(async (options: { all?: boolean; volumes?: boolean; force?: boolean }, command: Command) => {
      const { root } = contextOf(command);
      if (!options.force && !(await confirm(`${pruneWarning(options)}\n\nAre you sure you want to continue? [y/N] `))) return;
      const result = await pruneSystem(root, options);
      const section = (title: string, lines: string[]): void => {
        if (lines.length === 0) return;
        say(`${title}:`);
        for (const line of lines) say(line);
        say('');
      };
      section('Deleted Containers', result.containers);
      section('Deleted Networks', result.networks);
      section('Deleted Volumes', result.volumes);
      if (result.buildCache > 0) section('Deleted build cache objects', [`${result.buildCache} cached steps`]);
      section('Deleted Images', result.images.flatMap((image) => [...image.repoTags.map((tag) => `untagged: ${parseReference(tag).familiar}`), `deleted: ${image.id}`]));
      say(`Total reclaimed space: ${formatBytes(result.reclaimed)}`);
    });
}

function registerRestore(system: Command): void {
  system.command('restore')
    .description('Start the containers whose restart policy asks for it (run at boot: no daemon does it)')
    .addHelpText('after', `
Examples:
  minibox system restore        # starts always, unless-stopped (not stopped by hand), on-failure
  systemctl enable minibox-restore.service   # see docs/lifecycle.md: runs it at every boot`)
    .action(async (_options: unknown, command: Command) => {
      const { root } = contextOf(command);
      const { restoreContainers } = await import('../../lifecycle/restart.js');
      const { failed } = await restoreContainers(root, (record) => say(record.Name.slice(1)));
      for (const { record, error } of failed) process.stderr.write(`minibox: cannot restore ${record.Name.slice(1)}: ${error}\n`);
      if (failed.length > 0) process.exitCode = 1;
    });
}

export function registerSystemCommands(program: Command): void {
  const system = program.command('system').description('Manage minibox: check, measure and clean the state root');
  registerFsck(system);
  registerDf(system);
  registerPrune(system);
  registerRestore(system);
}
