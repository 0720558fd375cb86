/**
 * events-command.ts — `minibox events [--since T] [--until T] [-f KEY=VALUE] [--format F]`: the
 * journal of what happened (events/event-log.ts), printed as `docker events` prints it:
 *
 *   2026-11-30T07:30:17.123456789Z container start 3f… (image=busybox, name=web)
 *
 * Without --since, only what happens from now on; with --since, the past first. Without --until
 * it follows the journal until Ctrl-C; with --until it stops there (at once, if that is the past).
 * Filters (Docker's): container=ID|NAME, event=ACTION, type=container|image, image=NAME,
 * label=KEY[=VALUE]. Values of one key are OR-ed, different keys AND-ed.
 *
 * Try: `minibox run --rm --name evcmd busybox sh -c 'exit 3'; minibox events --since 1m --until 0s
 * -f container=evcmd -f event=die` → `container die … (exitCode=3, image=busybox, name=evcmd)`
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { parseLogTime } from '../../lifecycle/logs.js';
import { followJournal, readJournal, type JournalEvent } from '../../events/event-log.js';
import { renderGoTemplate } from '../go-template.js';
import { ContainerStore } from '../../container/container-store.js';
import { collect, contextOf, say } from '../context.js';

interface EventsFlags { since?: string; until?: string; filter: string[]; format?: string }

const FILTER_KEYS = ['container', 'event', 'type', 'image', 'label'];

type EventFilter = (event: JournalEvent) => boolean;

/**
 * Docker's event filters; bad input is one line, exit 125. `idOf` names the container a
 * container=NAME filter means now, so its events match by id whatever name they were written with
 * (the monitor's "die" keeps the name the run started with).
 */
export function parseEventFilters(specs: string[], idOf: (name: string) => string | undefined = () => undefined): EventFilter[] {
  const byKey = new Map<string, string[]>();
  for (const spec of specs) {
    const equals = spec.indexOf('=');
    if (equals <= 0) throw new UsageError(`bad format of filter (expected name=value): ${spec}`);
    const key = spec.slice(0, equals);
    if (!FILTER_KEYS.includes(key)) throw new UsageError(`invalid filter '${key}': use ${FILTER_KEYS.join(', ')}`);
    byKey.set(key, [...(byKey.get(key) ?? []), spec.slice(equals + 1)]);
  }
  return [...byKey].map(([key, values]): EventFilter => ({ message }) => {
    const attributes = message.Actor.Attributes;
    return values.some((value) => {
      switch (key) {
        case 'container': return message.Type === 'container'
          && (message.Actor.ID.startsWith(value) || attributes.name === value || message.Actor.ID === idOf(value));
        // `health_status: healthy` matches event=health_status, as Docker's filter does.
        case 'event': return message.Action === value || message.Action.split(':')[0] === value;
        case 'type': return message.Type === value;
        case 'image': return attributes.image === value || (message.Type === 'image' && (message.Actor.ID === value || attributes.name === value));
        default: {
          const [name, wanted] = value.split('=', 2) as [string, string | undefined];
          return name in attributes && (wanted === undefined || attributes[name] === wanted);
        }
      }
    });
  });
}

/** ns since the epoch → Docker's RFC3339NanoFixed in UTC: `2026-11-30T07:30:17.000000001Z`. */
export function formatEventTime(timeNano: bigint): string {
  const seconds = timeNano / 1_000_000_000n;
  const fraction = (timeNano % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, '')}.${fraction}Z`;
}

/** Docker CLI's prettyPrintEvent: time, type, action, id, then the attributes sorted by key. */
export function formatEvent(event: JournalEvent): string {
  const { message } = event;
  const attributes = Object.keys(message.Actor.Attributes).sort().map((key) => `${key}=${message.Actor.Attributes[key]}`);
  const tail = attributes.length > 0 ? ` (${attributes.join(', ')})` : '';
  return `${formatEventTime(event.timeNano)} ${message.Type} ${message.Action} ${message.Actor.ID}${tail}`;
}

function printer(format: string | undefined): (event: JournalEvent) => string {
  if (format === undefined || format === '') return formatEvent;
  if (format === 'json' || format.trim() === '{{json .}}') return (event) => event.line;
  const template = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  // Docker's template fields: .Type .Action .Actor.ID .Actor.Attributes .Status .ID .Time .TimeNano .Scope
  return (event) => renderGoTemplate(template, {
    ...event.message, Status: event.message.status, ID: event.message.id, From: event.message.from ?? '',
    Time: event.message.time, TimeNano: event.message.timeNano, Scope: event.message.scope,
  });
}

export function registerEventsCommand(program: Command, name = 'events'): void {
  program
    .command(name)
    .description('Get real time events from containers and images')
    .option('--since <time>', 'show events since a time (2026-11-30T10:00:00Z), Unix seconds or duration (10m)')
    .option('--until <time>', 'stream events until this time (a past time stops at once)')
    .option('-f, --filter <key=value>', 'container=, event=, type=, image=, label= (repeatable)', collect, [])
    .option('--format <format>', "json, or a Go template such as '{{.Action}} {{.Actor.Attributes.name}}'")
    .addHelpText('after', `
Examples:
  minibox events                                      # follow what happens from now on (Ctrl-C)
  minibox events --since 10m --until 0s               # the last ten minutes, then return
  minibox events -f container=web -f event=die --since 1h --until 0s
  minibox events --format json --since 1h --until 0s  # one JSON object per line`)
    .action(async (flags: EventsFlags, cmd: Command) => {
      const { root } = contextOf(cmd);
      const now = Date.now();
      const sinceNano = flags.since === undefined ? undefined : BigInt(Math.floor(parseLogTime(flags.since, now))) * 1_000_000n;
      const untilNano = flags.until === undefined ? undefined : BigInt(Math.floor(parseLogTime(flags.until, now, 'until'))) * 1_000_000n;
      const store = new ContainerStore(root);
      const filters = parseEventFilters(flags.filter, (name) => {
        try {
          return store.resolve(name)?.Id;
        } catch {
          return undefined; // an ambiguous prefix names no one container
        }
      });
      const print = printer(flags.format);
      const emit = (event: JournalEvent): void => {
        if (sinceNano !== undefined && event.timeNano < sinceNano) return;
        if (untilNano !== undefined && event.timeNano > untilNano) return;
        if (filters.every((keep) => keep(event))) say(print(event));
      };
      const journal = readJournal(root);
      // Without --since, Docker streams only new events; with --until alone, it replays the past too.
      if (sinceNano !== undefined || untilNano !== undefined) journal.events.forEach(emit);
      const untilMs = untilNano === undefined ? undefined : Number(untilNano / 1_000_000n);
      if (untilMs !== undefined && untilMs <= Date.now()) return;
      await followJournal(root, journal, emit, () => untilMs !== undefined && Date.now() > untilMs);
    });
}
