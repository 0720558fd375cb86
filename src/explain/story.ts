/**
 * story.ts — `--explain`: a command's kernel steps told as a story a student can follow.
 *
 * Every kernel call publishes an event (sys/call.ts); `--explain=all` says one sentence per event
 * (narrate.ts). The story instead groups them into the chapters of a container's life
 * (chapters.ts: 1 image … 7 the program), in that order, each step one short line: plain words
 * first, the exact call second (dimmed on a terminal). Long paths are named once at the top
 * (`<ctr> = /var/lib/minibox/containers/7a72…d6b8`, so a rootfs is `<ctr>/rootfs`) and shortened everywhere below; runs of
 * similar calls are one line (story-steps.ts); each chapter's heading says how long it took,
 * from its events' own durations (the first line: from the first event to the last).
 *
 * A start is told when it ends — at the program's execve, before its output — so the chapters
 * can be in the course's order even where the kernel's order differs (the cgroup namespace is
 * made after the network, the hostname set after pivot_root). What happens later (a `--rm`
 * clean-up, the steps of `stop` or `rm`) is told when the command ends, as a second story.
 *
 * Try: `minibox run --rm --explain busybox true 2>&1 | head -2` → `the story of this run (… ms); <ctr> =
 * …/containers/…`
 */
import type { SysEvent } from '../sys/trace.js';
import { CHAPTERS, CHAPTER_TITLES, chapterNumber, chapterOf, isBookkeeping, type Chapter } from './chapters.js';
import { storyStep, type StoryStep } from './story-steps.js';

/** No line of the story is wider (the issue's and the course's terminals: 100 columns). */
export const STORY_WIDTH = 100;

interface Gathered { step: StoryStep; items: string[]; failures: string[] }

interface Abbreviation { name: string; pattern: RegExp; full: string }

/** Paths that would repeat on every line: a container's directory, the layer store. */
function abbreviationsFor(text: string): Abbreviation[] {
  const found: Abbreviation[] = [];
  const container = /(\/[^\s,:"'`]*\/containers\/[0-9a-f]{64})/.exec(text)?.[1];
  if (container) {
    const id = container.slice(-64);
    found.push({ name: '<ctr>', pattern: new RegExp(escape(container), 'g'), full: `${container.slice(0, -64)}${id.slice(0, 4)}…${id.slice(-4)}` });
  }
  const layers = /(\/[^\s,:"'`]*\/layers\/sha256)\//.exec(text)?.[1];
  if (layers) found.push({ name: '<layers>', pattern: new RegExp(escape(layers), 'g'), full: layers });
  return found;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `<layers>/81f571fc…(64 hex)` → `<layers>/81f571fc1415`: Docker's short ids for the rest. */
function shortenIds(text: string): string {
  return text.replace(/\b([0-9a-f]{12})[0-9a-f]{52}\b/g, '$1');
}

/** Printable width: escape sequences take no columns. */
export function visibleWidth(line: string): number {
  // eslint-disable-next-line no-control-regex
  return [...line.replace(/\x1b\[[0-9;]*m/g, '')].length;
}

/** Breaks words onto continuation lines at spaces so that no line is wider than `width`. */
function wrap(text: string, first: string, rest: string, width: number): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(' ')) {
    const candidate = line === first ? `${line}${word}` : `${line} ${word}`;
    if (visibleWidth(candidate) > width && line !== first) {
      lines.push(line);
      line = `${rest}${word}`;
    } else {
      line = candidate;
    }
  }
  lines.push(line);
  return lines.map((l) => (visibleWidth(l) > width ? `${[...l].slice(0, width - 1).join('')}…` : l));
}

/** A call the story would leave out, but that failed: the failure is the story. */
function failedStep(event: SysEvent): StoryStep {
  const what = Object.values(event.args).find((v) => typeof v === 'string' && v.startsWith('/')) ?? '';
  return { key: `failed:${event.time}:${event.call}`, item: '', render: () => ({ words: `${event.call} ${String(what)}`.trim(), call: event.call }) };
}

/**
 * The call as it fits after the words on one line: whole, or its first calls and "…" (the rest
 * are in --explain=all); undefined when not even the first fits (it then gets a line of its own).
 */
function fitCall(line: string, call: string): string | undefined {
  const room = STORY_WIDTH - visibleWidth(`${line}  · `);
  if (!call) return room >= 0 ? '' : undefined;
  if (visibleWidth(call) <= room) return call;
  const parts = call.split(', ');
  for (let n = parts.length - 1; n > 0; n--) {
    const shortened = `${parts.slice(0, n).join(', ')}, …`;
    if (visibleWidth(shortened) <= room) return shortened;
  }
  return undefined;
}

export interface StoryOptions {
  /** Dim the calls (a terminal reads stderr). */
  color?: boolean;
  /** What is being told, for the first line: "this start", "the removal of web". */
  subject?: string;
}

/** Collects events; `tell()` writes what was collected as a story and starts afresh. */
export function createStory(write: (line: string) => void, options: StoryOptions = {}): { event(event: SysEvent): void; tell(): void } {
  let chapters = new Map<Chapter, Map<string, Gathered>>();
  let ms = new Map<Chapter, number>();
  let firstTime = 0;
  let lastTime = 0;
  let told = 0;
  const dim = (text: string): string => (options.color ? `\x1b[2m${text}\x1b[0m` : text);

  const tell = (): void => {
    if (chapters.size === 0) return;
    const rendered: { chapter: Chapter; lines: { words: string; call: string; detail?: string }[] }[] = [];
    for (const chapter of CHAPTERS) {
      const steps = chapters.get(chapter);
      if (!steps) continue;
      rendered.push({
        chapter,
        lines: [...steps.values()].map(({ step, items, failures }) => {
          const line = step.render(items);
          return failures.length ? { ...line, words: `${line.words} — FAILED: ${failures.join(', ')}` } : line;
        }),
      });
    }
    const everything = rendered.flatMap((c) => c.lines.flatMap((l) => [l.words, l.call, l.detail ?? ''])).join('\n');
    const names = abbreviationsFor(everything);
    const shorten = (text: string): string => shortenIds(names.reduce((t, n) => t.replace(n.pattern, n.name), text));
    const subject = told === 0 ? options.subject ?? 'this start' : 'what followed';
    const legend = names.filter((name) => everything.match(name.pattern)).map((name) => `${name.name} = ${name.full}`);
    const took = `${Math.round(lastTime - firstTime)} ms`;
    for (const part of wrap(`the story of ${subject} (${took})${legend.length ? `; ${legend.join(', ')}` : ''}`, '', '  ', STORY_WIDTH)) write(part);
    for (const { chapter, lines } of rendered) {
      // The time a chapter took: the durations of its calls and commands (their events' `ms`).
      write(`${chapterNumber(chapter)} ${chapter}: ${CHAPTER_TITLES[chapter]} (${Math.round(ms.get(chapter) ?? 0)} ms)`);
      for (const line of lines) {
        const words = shorten(line.words);
        const call = shorten(line.call);
        const wrapped = wrap(words, '  ', '    ', STORY_WIDTH);
        const last = wrapped.pop() ?? '';
        const fitted = fitCall(last, call);
        for (const part of wrapped) write(part);
        if (fitted !== undefined) write(`${last}${fitted ? `  ${dim(`· ${fitted}`)}` : ''}`);
        else for (const part of [last, ...wrap(`· ${call}`, '      ', '      ', STORY_WIDTH).map(dim)]) write(part);
        if (line.detail) for (const part of wrap(shorten(line.detail), '      ', '      ', STORY_WIDTH)) write(dim(part));
      }
    }
    chapters = new Map();
    ms = new Map();
    firstTime = 0;
    told += 1;
  };

  return {
    event(event) {
      // An event is published when its call ends: the call began `ms` earlier.
      firstTime = firstTime ? Math.min(firstTime, event.time - event.ms) : event.time - event.ms;
      lastTime = Math.max(lastTime, event.time);
      const chapter = chapterOf(event);
      ms.set(chapter, (ms.get(chapter) ?? 0) + event.ms);
      // A bookkeeping call that fails is expected (a probe for a missing file, mkdir of an existing
      // one); a failure that matters fails the command, which says so itself.
      if (isBookkeeping(event)) return;
      const step = storyStep(event) ?? (event.error ? failedStep(event) : undefined);
      if (step) {
        const steps = chapters.get(chapter) ?? new Map<string, Gathered>();
        chapters.set(chapter, steps);
        const gathered = steps.get(step.key) ?? { step, items: [], failures: [] };
        if (step.last) steps.delete(step.key); // told where its latest event happened
        steps.set(step.key, gathered);
        gathered.items.push(step.item);
        if (event.error) gathered.failures.push(`${event.call} ${event.error}`);
      }
      // The program runs: its start is complete, and is told before the program's own output.
      if (event.call === 'execve' && event.kind === 'step') tell();
    },
    tell,
  };
}
