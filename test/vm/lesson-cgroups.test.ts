/**
 * Runs INSIDE the test VM: lesson 6 (docs/lessons/06-cgroups-limits.md) on a cgroup v2 machine,
 * where its limits really bite — the host tier can only see its "needs cgroup v2" refusal.
 * Its Run steps are parsed and run with the lesson runner as `minibox lesson run 6` would, with
 * two stand-ins the VM needs: the pre-filled busybox image tagged as lab/base:1 (the VM cannot
 * build the lab images: `build` runs its RUN steps with --network none), and `--network host`
 * for `--network none` (the VM has no iproute2/nsenter to bring up a namespace's loopback).
 * On top of the lesson's own `# expect:` lines (which accept either path), the v2 path must be
 * the one taken: exit 137 and "can't fork", never the refusal.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLesson } from '../../src/lessons/lesson-file.js';
import { runSteps } from '../../src/lessons/lesson-runner.js';
import { bin } from '../helpers/minibox.js';

let root = '';

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-vm-lesson-'));
  expect(spawnSync('cp', ['-a', '/minibox-store/.', root]).status).toBe(0);
  expect(spawnSync(process.execPath, [bin, '--root', root, 'tag', 'busybox', 'lab/base:1']).status).toBe(0);
});

afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('lesson 6 on cgroup v2', () => {
  it('every Run step does what the lesson says, by the v2 path', () => {
    const lesson = findLesson('6');
    const steps = lesson.steps.filter((s) => s.section === 'run')
      .map((s) => ({ ...s, command: s.command.replaceAll('--network none', '--network host') }));
    expect(steps.length).toBeGreaterThanOrEqual(3);
    const outcomes = runSteps(steps, { root, timeoutMs: 240_000 });
    const failed = outcomes.find((o) => o.problems.length > 0);
    expect(failed && `${failed.step.line}: ${failed.step.command}\n${failed.output}\n${failed.problems.join('; ')}`).toBeUndefined();
    expect(outcomes).toHaveLength(steps.length);
    const all = outcomes.map((o) => o.output).join('\n');
    expect(all).not.toMatch(/need cgroup v2/);
    expect(all).toMatch(/^exit 137$/m);
    expect(all).toMatch(/can't fork/);
  });
});
