/**
 * story-line.ts — one line of the `--explain` story, and how steps gather into it.
 *
 * Every event becomes a StoryStep (story-steps.ts, mount-steps.ts, image-steps.ts,
 * network/explain.ts); steps with the same `key` are one line, each adding an `item`, and
 * `render` makes the line's words and call from all the items once the story is told (story.ts).
 *
 * Try: `minibox run --rm --explain busybox true 2>&1 | grep ' · '` → `PID 1 of a new PID namespace`
 */

export interface StoryLine {
  /** Plain words: what the step does, in the course's vocabulary. */
  words: string;
  /** The exact call(s), shown second (dimmed on a terminal). */
  call: string;
  /** A second line, indented further (the overlay's lowerdir/upperdir/workdir). */
  detail?: string;
}

export interface StoryStep {
  /** Steps with the same key become one line. */
  key: string;
  /** What this event adds to the line (a path, a capability); '' when it adds nothing by name. */
  item: string;
  render: (items: string[]) => StoryLine;
  /** The line stands where its latest event happened, not its first (execve, after the pipes). */
  last?: boolean;
}

export function str(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A line that gathers a list: each event adds an item (a path, a name). */
export function list(key: string, item: string, words: (items: string[]) => string, call: (items: string[]) => string): StoryStep {
  return { key, item, render: (items) => ({ words: words(items), call: call(items) }) };
}

/** A line that gathers nothing: the same words whatever else happens. */
export function single(key: string, words: string, call: string, detail?: string): StoryStep {
  return { key, item: '', render: () => ({ words, call, ...(detail ? { detail } : {}) }) };
}
