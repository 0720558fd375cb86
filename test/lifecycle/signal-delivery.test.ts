/**
 * One signal to minibox is one signal in the container. A foreground `run` used to forward
 * SIGTERM twice — from lifecycle/run.ts and from the runtime's supervisor — to the same PID.
 * The container's program here (test/fixtures/probes/signal-counter.c) counts SIGTERMs while
 * spinning on a CPU, so two deliveries microseconds apart are seen as two. After each SIGTERM the
 * test sends SIGUSR1 and waits for it to be counted: any second SIGTERM of that round was sent
 * before it, so the count the test then reads is final for the round.
 *
 * Fails on the main branch before the single owner (checked against a checkout of 18d62ab): the
 * probe counted more SIGTERMs than were sent.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProbe } from '../helpers/probes.js';
import { LifecycleFixture, type RunningContainer } from './running-container.js';

const ROUNDS = 10;
const fixture = new LifecycleFixture();
let probeDir: string;
let counter: RunningContainer;
let output = '';

/** The highest count the probe printed for `name` (TERM or USR1). */
function count(name: string): number {
  return Math.max(0, ...output.split('\n').filter((line) => line.startsWith(`${name} `)).map((line) => Number(line.slice(name.length + 1))));
}

/** Waits until the probe's output satisfies `condition` (fails clearly if minibox run exits). */
async function until(condition: () => boolean): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (condition()) done(resolve);
      else if (counter.engine.exitCode !== null) done(() => reject(new Error(`minibox run exited; output so far:\n${output}`)));
    };
    const done = (then: () => void): void => {
      counter.engine.stdout?.off('data', check);
      counter.engine.off('exit', check);
      then();
    };
    counter.engine.stdout?.on('data', check);
    counter.engine.on('exit', check);
    check();
  });
}

beforeAll(async () => {
  probeDir = buildProbe('signal-counter');
  await fixture.setup();
  counter = await fixture.start('counter', ['/probe/signal-counter'], ['--network', 'none', '-v', `${probeDir}:/probe:ro`]);
  counter.engine.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  await until(() => output.startsWith('ready\n'));
});

afterAll(async () => {
  await fixture.cleanup();
  fs.rmSync(probeDir, { recursive: true, force: true });
});

describe('signals to a foreground run', () => {
  it(`${ROUNDS} SIGTERMs to minibox are ${ROUNDS} SIGTERMs in the container`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      counter.engine.kill('SIGTERM');
      await until(() => count('TERM') >= round);
      counter.engine.kill('SIGUSR1');
      await until(() => count('USR1') >= round);
      expect(count('TERM'), output).toBe(round);
    }
  }, 120_000);
});
