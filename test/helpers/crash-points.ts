/**
 * Seeded choices of crash points (src/crash-point.ts) for fault-injection tests.
 *
 * The seed is `$MINIBOX_TEST_SEED` or the time; every trial's message carries it, so a failure
 * prints the seed and `MINIBOX_TEST_SEED=<seed> npx vitest run <file>` replays the same points.
 */
import { expect } from 'vitest';

export const seed = Number(process.env.MINIBOX_TEST_SEED ?? (Date.now() % 2 ** 31));

/** mulberry32: a tiny, well-mixed 32-bit generator. */
export function seededRandom(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A crash point and how many times it may be reached before the kill (`point@N`). */
export interface PointChoice { point: string; maxHit?: number }

/** `count` values for MINIBOX_TEST_CRASH_AT, drawn from `choices` by the generator `salt` picks. */
export function crashTrials(salt: string, choices: PointChoice[], count = Number(process.env.MINIBOX_CRASH_TRIALS ?? 20)): string[] {
  const random = seededRandom(seed ^ [...salt].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261));
  return Array.from({ length: count }, () => {
    const choice = choices[Math.floor(random() * choices.length)]!;
    const hit = 1 + Math.floor(random() * (choice.maxHit ?? 1));
    return hit === 1 ? choice.point : `${choice.point}@${hit}`;
  });
}

/** `expect` with the seed and the trial in the message, so a failure can be replayed. */
export function trialExpect<T>(value: T, trial: string): ReturnType<typeof expect<T>> {
  return expect(value, `seed ${seed} (MINIBOX_TEST_SEED=${seed}), crash at ${trial}`);
}
