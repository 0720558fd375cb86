/**
 * lesson-runner.ts — runs a lesson's shell steps and checks each one's declared outcome.
 *
 * Each step runs as `/bin/sh -c COMMAND` with `minibox` on PATH (a two-line shim in a temp dir
 * that calls this very minibox) and MINIBOX_ROOT set, so `minibox run …` in a lesson acts on the
 * state root chosen here: a lesson root of its own for `lesson run`, the student's for `check`.
 * The command is printed before its output (`$ minibox …`), then compared with its annotations
 * (`# expect:` regexes against stdout+stderr, trailing blanks trimmed; `# exit:` status; see
 * lesson-file.ts).
 *
 * Try: `minibox lesson run 1` → `$ minibox run --rm --network none lab/base:1 ps … ok`
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { miniboxCommand } from './lab-images.js';
import type { LessonStep } from './lesson-file.js';

export interface StepOutcome {
  step: LessonStep;
  code: number;
  output: string;
  /** Empty when the step did what the lesson says. */
  problems: string[];
}

export interface RunOptions {
  root: string;
  env?: NodeJS.ProcessEnv;
  /** Print each command and its output as it runs. */
  echo?: (text: string) => void;
  /** Called between steps (`--step`: wait for Enter). */
  pause?: () => void;
  timeoutMs?: number;
  /** Working directory of the steps (a lesson's build contexts go here). */
  cwd?: string;
}

/** A temp dir holding an executable `minibox` that runs this minibox; remove it when done. */
export function makeShimDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minibox-lesson-bin-'));
  const [node, bin] = miniboxCommand();
  fs.writeFileSync(path.join(dir, 'minibox'), `#!/bin/sh\nexec '${node}' '${path.resolve(bin!)}' "$@"\n`, { mode: 0o755 });
  return dir;
}

export function checkOutcome(step: LessonStep, code: number, output: string): string[] {
  const problems: string[] = [];
  if (code !== step.exit) problems.push(`exit status ${code}, the lesson expects ${step.exit}`);
  const text = output.trimEnd();
  for (const re of step.expect) if (!re.test(text)) problems.push(`output does not match ${re}`);
  return problems;
}

/** Runs the steps in order; stops at the first one that does not do what the lesson says. */
export function runSteps(steps: LessonStep[], options: RunOptions): StepOutcome[] {
  const shim = makeShimDir();
  const outcomes: StepOutcome[] = [];
  try {
    const env = { ...process.env, ...options.env, MINIBOX_ROOT: options.root, PATH: `${shim}:${process.env.PATH ?? ''}` };
    for (const [index, step] of steps.entries()) {
      if (index > 0) options.pause?.();
      options.echo?.(`$ ${step.command}\n`);
      const result = spawnSync('/bin/sh', ['-c', step.command], {
        env, cwd: options.cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 120_000,
      });
      const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
      const code = result.status ?? 128 + 9;
      options.echo?.(output === '' || output.endsWith('\n') ? output : `${output}\n`);
      const outcome = { step, code, output, problems: checkOutcome(step, code, output) };
      outcomes.push(outcome);
      if (outcome.problems.length > 0) break;
    }
  } finally {
    fs.rmSync(shim, { recursive: true, force: true });
  }
  return outcomes;
}

/**
 * Removes every container of a lesson root (whatever its clean-up forgot), its kept default
 * bridge (`network prune`: the bridge outlives its containers, src/network/kept-bridge.ts), then
 * the root.
 */
export function removeLessonRoot(root: string): void {
  const [node, bin] = miniboxCommand();
  const ids = spawnSync(node!, [bin!, '--root', root, 'ps', '-aq', '--no-trunc'], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
  if (ids.length > 0) spawnSync(node!, [bin!, '--root', root, 'rm', '-f', '-v', ...ids], { stdio: 'ignore' });
  if (fs.existsSync(path.join(root, 'networks'))) spawnSync(node!, [bin!, '--root', root, 'network', 'prune', '-f'], { stdio: 'ignore' });
  fs.rmSync(root, { recursive: true, force: true });
}
