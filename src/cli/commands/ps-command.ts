/**
 * ps-command.ts — `minibox ps` / `container ls`: the containers, as `docker ps` lists them.
 *
 * Every listed record was reconciled first (container/reconcile.ts), so STATUS is what the kernel
 * says, not what the record last claimed. Columns: CONTAINER ID (12 hex digits), IMAGE,
 * COMMAND (quoted, cut at 20 characters with "…"), CREATED, STATUS ("Up 3 seconds",
 * "Exited (0) 2 minutes ago", "Created", "Up 1 minute (Paused)", "Up 2 minutes (healthy)",
 * "Restarting (1) 3 seconds ago"; "Up 3 seconds (network lost)" when its bridge or veth
 * is gone), PORTS, NAMES. Newest first.
 *
 * Try: `minibox run --name box busybox true && minibox ps -a --format '{{.Names}} {{.Status}}'` →
 * `box Exited (0)`
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { formatAgo, formatDuration, formatTable } from '../../format.js';
import type { ContainerRecord } from '../../container/container-store.js';
import { reconcileAll } from '../../container/reconcile.js';
import { collect, contextOf, say } from '../context.js';
import { renderRows } from '../go-template.js';
import { containerPorts, formatPorts, lostNetworks } from '../../network/index.js';
import type { StateRoot } from '../../state-root.js';

interface PsFlags { all?: boolean; quiet?: boolean; trunc?: boolean; filter: string[]; format?: string }

/** Docker's State.String(): "Up 3 seconds (Paused)", "Restarting (1) 2 seconds ago", "Up 1 minute (healthy)". */
export function statusText(record: ContainerRecord, now = Date.now()): string {
  const state = record.State;
  if (state.Running) {
    const up = `Up ${formatDuration(now - Date.parse(state.StartedAt))}`;
    if (state.Paused) return `${up} (Paused)`;
    if (state.Health) return `${up} (${state.Health.Status === 'starting' ? 'health: starting' : state.Health.Status})`;
    return up;
  }
  if (state.Restarting) return `Restarting (${state.ExitCode}) ${formatAgo(state.FinishedAt, now)}`;
  if (state.Status === 'removing') return 'Removal In Progress';
  if (state.Status === 'exited') {
    return state.FinishedAt ? `Exited (${state.ExitCode}) ${formatAgo(state.FinishedAt, now)}` : `Exited (${state.ExitCode})`;
  }
  return 'Created';
}

/** Docker's State.StateString(): created, running, paused, restarting, removing, exited. */
export function stateName(record: ContainerRecord): string {
  if (record.State.Running && record.State.Paused) return 'paused';
  if (!record.State.Running && record.State.Restarting) return 'restarting';
  return record.State.Status;
}

/** Docker's formatter.Ellipsis: at most `width` characters, the last one "…" when cut. */
function ellipsis(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, width - 1).join('')}…`;
}

/** Docker's COMMAND: the path, then the arguments, those with a space in '…' (daemon/list.go). */
export function commandOf(record: Pick<ContainerRecord, 'Path' | 'Args'>): string {
  return [record.Path, ...record.Args.map((arg) => (arg.includes(' ') ? `'${arg}'` : arg))].join(' ');
}

type Filter = (record: ContainerRecord) => boolean;

function parseFilters(specs: string[]): Filter[] {
  const byKey = new Map<string, string[]>();
  for (const spec of specs) {
    const equals = spec.indexOf('=');
    if (equals <= 0) throw new UsageError(`bad format of filter (expected name=value): ${spec}`);
    const key = spec.slice(0, equals).toLowerCase();
    byKey.set(key, [...(byKey.get(key) ?? []), spec.slice(equals + 1)]);
  }
  // Values of one key are OR-ed, different keys AND-ed, as in Docker.
  return [...byKey].map(([key, values]): Filter => {
    switch (key) {
      case 'name': return (r) => values.some((value) => new RegExp(value).test(r.Name.slice(1)));
      case 'id': return (r) => values.some((value) => r.Id.startsWith(value));
      case 'status': {
        const known = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
        for (const value of values) if (!known.includes(value)) throw new UsageError(`invalid filter 'status=${value}'`);
        return (r) => values.includes(stateName(r));
      }
      case 'exited': return (r) => r.State.Status === 'exited' && values.includes(String(r.State.ExitCode));
      case 'health': {
        const known = ['starting', 'healthy', 'unhealthy', 'none'];
        for (const value of values) if (!known.includes(value)) throw new UsageError(`invalid filter 'health=${value}': use ${known.join(', ')}`);
        return (r) => values.includes(r.State.Running ? r.State.Health?.Status ?? 'none' : 'none');
      }
      default: throw new UsageError(`invalid filter '${key}'`);
    }
  });
}

/** The fields of `docker ps --format json` (and of `--format '{{.Names}}'`). */
function psFields(record: ContainerRecord, trunc: boolean, now: number, root?: StateRoot, cutOff = false): Record<string, string> {
  const created = new Date(record.Created);
  return {
    Command: JSON.stringify(trunc ? ellipsis(commandOf(record), 20) : commandOf(record)),
    CreatedAt: `${created.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} +0000 UTC`,
    ID: trunc ? record.Id.slice(0, 12) : record.Id,
    Image: record.Image,
    Labels: Object.entries(record.Config.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    LocalVolumes: String(record.Mounts.filter((mount) => mount.Type === 'volume').length),
    Mounts: record.Mounts.map((mount) => mount.Name ?? mount.Source).join(','),
    Names: record.Name.slice(1),
    Networks: record.HostConfig.NetworkMode,
    Ports: root ? formatPorts(containerPorts(root, record.Id)) : '',
    RunningFor: formatAgo(record.Created, now),
    Size: '0B',
    State: stateName(record),
    // Like Docker's "(unhealthy)": running, but its network was taken away (network/endpoint-health.ts).
    Status: `${statusText(record, now)}${cutOff ? ' (network lost)' : ''}`,
  };
}

const PS_HEADERS = {
  Command: 'COMMAND', CreatedAt: 'CREATED AT', ID: 'CONTAINER ID', Image: 'IMAGE', Labels: 'LABELS', LocalVolumes: 'LOCAL VOLUMES',
  Mounts: 'MOUNTS', Names: 'NAMES', Networks: 'NETWORKS', Ports: 'PORTS', RunningFor: 'CREATED', Size: 'SIZE', State: 'STATE', Status: 'STATUS',
};

export function registerPsCommand(parent: Command, name = 'ps', aliases: string[] = []): void {
  parent
    .command(name)
    .aliases(aliases)
    .description('List containers')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-q, --quiet', 'only display container IDs')
    .option('--no-trunc', 'don\'t truncate output')
    .option('-f, --filter <filter>', 'filter output: name=…, status=…, id=…, exited=…, health=… (repeatable)', collect, [])
    .option('--format <format>', "table, 'table TEMPLATE', json, or a Go TEMPLATE such as '{{.Names}}'")
    .action(async (flags: PsFlags, cmd: Command) => {
      const { root } = contextOf(cmd);
      const filters = parseFilters(flags.filter);
      const trunc = flags.trunc !== false; // commander names `--no-trunc` "trunc"
      const now = Date.now();
      const records = (await reconcileAll(root))
        // Without -a only running containers, unless a status/exited filter asks for others (as Docker).
        .filter((record) => flags.all || flags.filter.some((spec) => /^(status|exited)=/i.test(spec)) || record.State.Running || record.State.Restarting)
        .filter((record) => filters.every((keep) => keep(record)))
        .sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
      if (flags.quiet) {
        for (const record of records) say(trunc ? record.Id.slice(0, 12) : record.Id);
        return;
      }
      const lost = new Set((await lostNetworks(root, records.filter((r) => r.State.Running).map((r) => r.Id))).map((l) => l.containerId));
      const fieldsOf = (record: ContainerRecord) => psFields(record, trunc, now, root, lost.has(record.Id));
      if (flags.format !== undefined && flags.format !== 'table') {
        for (const line of renderRows(flags.format, records.map(fieldsOf), PS_HEADERS)) say(line);
        return;
      }
      const rows = records.map((record) => {
        const fields = fieldsOf(record);
        return [fields.ID!, fields.Image!, fields.Command!, fields.RunningFor!, fields.Status!, fields.Ports!, fields.Names!];
      });
      say(formatTable(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], rows));
    });
}
