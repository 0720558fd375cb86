/**
 * lesson-file.ts — reads a lesson (docs/lessons/NN-topic.md) into steps that can be run and checked.
 *
 * A lesson is Markdown in six parts: Predict → Run → Observe → Look inside → Answers → Clean up,
 * plus "Check your work" (what `minibox lesson check N` looks for in the student's own state).
 * Only the ```sh blocks under "## Run", "## Check your work" and "## Clean up" are executed.
 * Each line of such a block is one shell command (a line ending in `\` continues on the next);
 * comment lines after a command annotate it, or the same words as a trailing comment:
 *
 *   minibox run --rm lab/base:1 echo hi   # expect: /^hi$/m
 *   minibox run lab/base:1 false
 *   # exit: 1
 *   # hint: run the container named web first (see "Run")
 *
 *   `# expect: /REGEX/FLAGS`  stdout then stderr, trailing newlines trimmed, must match (repeatable)
 *   `# exit: N`               the exit status must be N (without it: 0)
 *   `# hint: TEXT`            what `lesson check` tells the student when this step fails
 * Other comment lines are explanations for the reader and are ignored.
 *
 * Try: `minibox lesson show 1` → `1` (prints the lesson; `minibox lesson run 1` runs its steps).
 */
import fs from 'node:fs';
import path from 'node:path';
import { MiniboxError } from '../errors.js';

export type Section = 'run' | 'check' | 'cleanup';

export interface LessonStep {
  section: Section;
  command: string;
  expect: RegExp[];
  exit: number;
  hint?: string;
  /** Line in the Markdown file, for error messages. */
  line: number;
}

export interface Lesson {
  number: number;
  slug: string;
  title: string;
  file: string;
  text: string;
  steps: LessonStep[];
}

const SECTIONS: [RegExp, Section][] = [
  [/^##\s+Run\b/i, 'run'],
  [/^##\s+Check your work\b/i, 'check'],
  [/^##\s+Clean up\b/i, 'cleanup'],
];

const ANNOTATION = /#\s*(expect|exit|hint):\s*(.*)$/;

function parseRegex(text: string, where: string): RegExp {
  const match = /^\/(.*)\/([a-z]*)$/.exec(text.trim());
  if (!match) throw new MiniboxError(`${where}: expect wants /REGEX/FLAGS, got "${text.trim()}"`);
  return new RegExp(match[1]!, match[2]);
}

function annotate(step: LessonStep, kind: string, value: string, where: string): void {
  if (kind === 'expect') step.expect.push(parseRegex(value, where));
  else if (kind === 'exit') {
    if (!/^\d+$/.test(value.trim())) throw new MiniboxError(`${where}: exit wants a number, got "${value.trim()}"`);
    step.exit = Number(value.trim());
  } else step.hint = value.trim();
}

/** Splits a trailing `  # expect: …` / `# exit: …` comment (each a separate annotation) off a line. */
function splitTrailing(line: string): { code: string; notes: [string, string][] } {
  const start = line.search(/\s#\s*(expect|exit|hint):/);
  if (start < 0) return { code: line, notes: [] };
  const notes: [string, string][] = [];
  const rest = line.slice(start).trim();
  // "# expect: /a/ # exit: 1" → two annotations
  for (const part of rest.split(/\s+(?=#\s*(?:expect|exit|hint):)/)) {
    const match = ANNOTATION.exec(part);
    if (match) notes.push([match[1]!, match[2]!]);
  }
  return { code: line.slice(0, start).trimEnd(), notes };
}

/** Parses the text of one lesson file. */
export function parseLesson(text: string, file: string): Lesson {
  const base = path.basename(file, '.md');
  const named = /^(\d+)-(.+)$/.exec(base);
  if (!named) throw new MiniboxError(`${file}: a lesson file is named NN-topic.md`);
  const title = /^#\s+(.+)$/m.exec(text)?.[1]?.trim() ?? named[2]!;
  const steps: LessonStep[] = [];
  let section: Section | undefined;
  let inBlock = false;
  let pending = '';
  let current: LessonStep | undefined;
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const where = `${path.basename(file)}:${index + 1}`;
    if (!inBlock && /^##\s/.test(line)) section = SECTIONS.find(([re]) => re.test(line))?.[1];
    if (/^```/.test(line)) {
      inBlock = !inBlock && section !== undefined && /^```sh\s*$/.test(line);
      current = undefined;
      return;
    }
    if (!inBlock || section === undefined) return;
    const trimmed = line.trim();
    if (trimmed.startsWith('#')) {
      const match = ANNOTATION.exec(trimmed);
      if (match && current) annotate(current, match[1]!, match[2]!, where);
      return;
    }
    if (trimmed === '') return;
    const { code, notes } = splitTrailing(line);
    if (code.endsWith('\\')) { pending += `${code.slice(0, -1)}\n`; return; }
    current = { section, command: (pending + code).trim(), expect: [], exit: 0, line: index + 1 };
    pending = '';
    for (const [kind, value] of notes) annotate(current, kind, value, where);
    steps.push(current);
  });
  return { number: Number(named[1]), slug: named[2]!, title, file, text, steps };
}

/** docs/lessons of this checkout (dist/lessons/… → ../../docs/lessons). */
export function lessonsDir(): string {
  return process.env.MINIBOX_LESSONS_DIR
    ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../docs/lessons');
}

export function listLessons(dir = lessonsDir()): Lesson[] {
  return fs.readdirSync(dir).filter((name) => /^\d+-.+\.md$/.test(name)).sort()
    .map((name) => parseLesson(fs.readFileSync(path.join(dir, name), 'utf8'), path.join(dir, name)));
}

export function findLesson(number: string, dir = lessonsDir()): Lesson {
  const lessons = listLessons(dir);
  const found = lessons.find((lesson) => lesson.number === Number(number));
  if (!/^\d+$/.test(number) || !found) {
    throw new MiniboxError(`no lesson ${number}: see "minibox lesson list" (lessons ${lessons.map((l) => l.number).join(', ')})`);
  }
  return found;
}
