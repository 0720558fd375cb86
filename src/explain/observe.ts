/**
 * observe.ts — `--explain[=all]` and `--trace FILE`: what a command does to the kernel, while it does it.
 *
 * Every kernel call and kernel-facing step is published as an event (sys/trace.ts). A command
 * that narrates subscribes here for as long as it runs:
 *   --explain        the story (story.ts): chapters, one short line per step, on stderr
 *   --explain=all    one sentence per call, as it happens (narrate.ts)
 *   --trace FILE     every event as a JSON line, with the chapter it belongs to as `phase`
 * The CLI subscribes before anything starts — before the foreground init stage's unshare, before
 * a detached container's monitor is spawned — so the stage is told to forward its own events
 * (its `--trace` flag, its bundle message) and no step of the start is missed.
 *
 * Try: `minibox run --rm --explain=all busybox true 2>&1 | grep pivot_root` → `minibox: pivot_root: / is
 * now the image`
 */
import fs from 'node:fs';
import { UsageError } from '../errors.js';
import { onSysEvent } from '../sys/trace.js';
import { chapterOf } from './chapters.js';
import { createNarrator } from './narrate.js';
import { createStory } from './story.js';

export type ExplainLevel = 'story' | 'all';

export interface ObserveOptions {
  /** Narrate on stderr: `true` or 'story' for the story, 'all' for a sentence per call. */
  explain?: boolean | ExplainLevel;
  /** Write every kernel call (engine's and stages') to this file as JSON lines. */
  traceFile?: string;
  /** What the story tells, for its first line ("the removal of web"). */
  subject?: string;
}

/** `--explain` → 'story', `--explain=all` → 'all'; anything else is a usage error. */
export function explainLevel(value: string | boolean | undefined): ExplainLevel | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true || value === 'story') return 'story';
  if (value === 'all') return 'all';
  throw new UsageError(`invalid --explain level "${value}": use --explain for the story, or --explain=all for every call`);
}

/** Subscribes to every kernel-call event; returns the function that unsubscribes (and tells the rest). */
export function observe(options: ObserveOptions): () => void {
  const stops: (() => void)[] = [];
  const level = explainLevel(options.explain);
  const say = (line: string): void => { process.stderr.write(`${line}\n`); };
  if (level === 'all') {
    const narrator = createNarrator((sentence) => say(`minibox: ${sentence}`));
    const off = onSysEvent((event) => narrator.event(event));
    stops.push(() => { narrator.flush(); off(); });
  } else if (level === 'story') {
    const story = createStory(say, { color: process.stderr.isTTY === true, ...(options.subject ? { subject: options.subject } : {}) });
    const off = onSysEvent((event) => story.event(event));
    stops.push(() => { off(); story.tell(); });
  }
  if (options.traceFile) {
    const fd = fs.openSync(options.traceFile, 'w');
    const off = onSysEvent((event) => fs.writeSync(fd, `${JSON.stringify({ ...event, phase: chapterOf(event) })}\n`));
    stops.push(() => { off(); fs.closeSync(fd); });
  }
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    for (const stop of stops) stop();
  };
}

/** Runs `fn` observed: the CLI's one wrapper for every verb with --explain/--trace. */
export async function observed<T>(options: ObserveOptions, fn: () => Promise<T>): Promise<T> {
  const stop = observe(options);
  try {
    return await fn();
  } finally {
    stop();
  }
}
