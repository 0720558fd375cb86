/**
 * runc CVE-2019-5736 class: the exec stage is a host process inside the container's PID
 * namespace. A hostile probe in the container (native/probes/stage-probe.c) hunts it
 * across 50 `minibox exec`s: it must never open /proc/PID/exe for writing, never get a handle on
 * a host binary through it, and never PTRACE_ATTACH to it while it is still a host program.
 *
 * Fails on the main branch before minibox-launch (checked by running this file against a
 * checkout of 18d62ab, where the stage was dumpable until its execve): breach lines such as
 * `breach 57 exe-handle Text file busy` appear —
 * the window between the stage's capset(2) and its execve(2).
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { repoRoot } from '../helpers/registry.js';
import { LifecycleFixture, type RunningContainer } from '../lifecycle/running-container.js';

const EXECS = 50;
const fixture = new LifecycleFixture();
/** Built by `npm run build` (native/Makefile); bind-mounted read-only at /probe. */
const probeDir = path.join(repoRoot, 'native/build/probes');
let target: RunningContainer;

function report(): string[] {
  try {
    return fs.readFileSync(`/proc/${target.pid}/root/tmp/probe-report`, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

beforeAll(async () => {
  await fixture.setup();
  target = await fixture.start('target', ['/probe/stage-probe', '/tmp/probe-report'], ['--network', 'none', '-v', `${probeDir}:/probe:ro`]);
});

afterAll(async () => {
  await fixture.cleanup();
});

describe('the exec stage cannot be reached from inside the container', () => {
  it(`${EXECS} execs: no /proc/PID/exe write or host-binary handle, no PTRACE_ATTACH`, async () => {
    for (let i = 0; i < EXECS; i++) {
      const result = await fixture.mb(['exec', 'target', 'true']);
      expect(result.code, result.stderr).toBe(0);
    }
    const lines = report();
    const seen = lines.filter((line) => line.startsWith('seen '));
    console.log(`stage-probe saw ${seen.length} stage processes in ${EXECS} execs`);
    expect(lines.filter((line) => line.startsWith('breach '))).toEqual([]);
    // The probe really was watching: it saw stages (CI saw 50 of 50). How many it catches depends
    // on scheduling, so the test asks only that it caught one — the claim is about the breaches.
    expect(seen.length).toBeGreaterThan(0);
  }, 600_000);
});
