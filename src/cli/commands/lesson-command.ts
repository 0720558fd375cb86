/**
 * lesson-command.ts — `minibox lesson list | show N | run N [--step] | check N | setup`: the course
 * (../shared/course) made runnable. Lessons live in docs/lessons/NN-topic.md (format: lessons/
 * lesson-file.ts). `run` works in a state root of its own, `<root>/lessons/NN`, with a bridge and
 * a temp working directory (for build contexts) of its own, builds the lab images there, runs the
 * lesson's steps and its clean-up, and removes that root: the student's containers and images are
 * never touched. `check` looks at the student's own state (the normal root) and prints the
 * lesson's hint for the first thing not yet done.
 *
 * Try: `minibox lesson list` → `1` (the course's lessons, numbered; `minibox lesson show 1` prints
 * the first).
 */
import type { Command } from 'commander';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MiniboxError } from '../../errors.js';
import { buildLabImages, LAB_IMAGES } from '../../lessons/lab-images.js';
import { findLesson, listLessons, type Lesson } from '../../lessons/lesson-file.js';
import { removeLessonRoot, runSteps, type StepOutcome } from '../../lessons/lesson-runner.js';
import { contextOf, say } from '../context.js';

const LESSON_EXAMPLES = `
Examples:
  minibox lesson list              # the lessons, and which you have checked
  minibox lesson show 1            # read lesson 1 in the terminal
  minibox lesson run 1 --step      # watch its steps, one by one, in a lesson root of its own
  minibox lesson setup             # build lab/base:1, lab/web:1 and lab/web:2 in your state root
  minibox lesson check 1           # did you do it? (looks at your own containers and images)`;

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function statusFile(root: string): string {
  return path.join(root, 'lessons', 'checked.json');
}

function checkedLessons(root: string): number[] {
  try { return JSON.parse(fs.readFileSync(statusFile(root), 'utf8')) as number[]; } catch { return []; }
}

function waitForEnter(): void {
  process.stdout.write('-- press Enter for the next step --');
  const buffer = Buffer.alloc(1);
  for (;;) {
    let read = 0;
    try { read = fs.readSync(0, buffer, 0, 1, null); } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw error;
    }
    if (read === 0 || buffer[0] === 10) break;
  }
}

function reportFailure(lesson: Lesson, failed: StepOutcome): void {
  process.stderr.write(`lesson ${lesson.number}: step "${failed.step.command}" (${path.basename(lesson.file)}:${failed.step.line}) `
    + `did not do what the lesson says: ${failed.problems.join('; ')}\n`);
}

function runLesson(lesson: Lesson, studentRoot: string, step: boolean): void {
  const root = path.join(studentRoot, 'lessons', pad(lesson.number));
  removeLessonRoot(root);
  fs.mkdirSync(root, { recursive: true });
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), `minibox-lesson-${pad(lesson.number)}-`));
  // a bridge, and a Docker config (registry logins), of the lesson's own
  const env = {
    MINIBOX_BRIDGE_NAME: `mblesson${pad(lesson.number)}`, MINIBOX_BRIDGE_SUBNET: `10.231.${lesson.number}.0/24`,
    DOCKER_CONFIG: path.join(cwd, '.docker'),
  };
  const echo = (text: string): void => { process.stdout.write(text); };
  const pause = step && process.stdin.isTTY ? waitForEnter : undefined;
  let failed: StepOutcome | undefined;
  try {
    say(`== lesson ${lesson.number}: ${lesson.title} (in ${root})`);
    buildLabImages(root, { quiet: true });
    const outcomes = runSteps(lesson.steps.filter((s) => s.section === 'run'), { root, env, echo, pause, cwd });
    failed = outcomes.find((outcome) => outcome.problems.length > 0);
    say('== clean up');
    const cleanup = runSteps(lesson.steps.filter((s) => s.section === 'cleanup'), { root, env, echo, cwd });
    failed ??= cleanup.find((outcome) => outcome.problems.length > 0);
  } finally {
    removeLessonRoot(root);
    fs.rmSync(cwd, { recursive: true, force: true });
  }
  if (failed) {
    reportFailure(lesson, failed);
    process.exitCode = 1;
  } else say(`== lesson ${lesson.number}: every step did what the lesson says`);
}

function checkLesson(lesson: Lesson, root: string): void {
  const steps = lesson.steps.filter((s) => s.section === 'check');
  if (steps.length === 0) throw new MiniboxError(`lesson ${lesson.number} has nothing to check: it is a lesson to read and run`);
  const outcomes = runSteps(steps, { root });
  const failed = outcomes.find((outcome) => outcome.problems.length > 0);
  if (failed) {
    say(`not yet: ${failed.step.hint ?? `"${failed.step.command}" did not do what the lesson says (${failed.problems.join('; ')})`}`);
    process.exitCode = 1;
    return;
  }
  const done = new Set(checkedLessons(root));
  done.add(lesson.number);
  fs.mkdirSync(path.dirname(statusFile(root)), { recursive: true });
  fs.writeFileSync(statusFile(root), JSON.stringify([...done].sort((a, b) => a - b)));
  say(`lesson ${lesson.number}: well done — everything it asks for is there`);
}

export function registerLessonCommands(program: Command): void {
  const lesson = program.command('lesson').description('Work through the course: lessons you can read, run and check')
    .addHelpText('after', LESSON_EXAMPLES);
  lesson.command('list').description('List the lessons, with which ones you have checked')
    .addHelpText('after', LESSON_EXAMPLES)
    .action((_flags: object, cmd: Command) => {
      const done = new Set(checkedLessons(contextOf(cmd).root.dir));
      say(`${'LESSON'.padEnd(8)}${'STATUS'.padEnd(10)}TITLE`);
      for (const l of listLessons()) say(`${String(l.number).padEnd(8)}${(done.has(l.number) ? 'checked' : '-').padEnd(10)}${l.title}`);
    });
  lesson.command('show').description('Print a lesson').argument('<n>', 'lesson number')
    .addHelpText('after', LESSON_EXAMPLES)
    .action((n: string) => { process.stdout.write(findLesson(n).text); });
  lesson.command('run').description('Run a lesson\'s steps in a state root of its own, checking each one')
    .argument('<n>', 'lesson number').option('--step', 'wait for Enter between steps (on a terminal)')
    .addHelpText('after', LESSON_EXAMPLES)
    .action((n: string, flags: { step?: boolean }, cmd: Command) => { runLesson(findLesson(n), contextOf(cmd).root.dir, flags.step ?? false); });
  lesson.command('check').description('Check that you did what a lesson asks, in your own state')
    .argument('<n>', 'lesson number').addHelpText('after', LESSON_EXAMPLES)
    .action((n: string, _flags: object, cmd: Command) => { checkLesson(findLesson(n), contextOf(cmd).root.dir); });
  lesson.command('setup').description(`Build the lab images (${LAB_IMAGES.join(', ')}) from the host's busybox`)
    .addHelpText('after', LESSON_EXAMPLES)
    .action((_flags: object, cmd: Command) => { buildLabImages(contextOf(cmd).root.dir); });
}
