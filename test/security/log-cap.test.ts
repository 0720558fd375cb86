/**
 * A container that prints forever cannot fill the host's disk (issue 10, item 8): the json-file
 * log is rotated by the monitor (`--log-opt max-size=… max-file=…`, default 10m × 3), and `logs`
 * reads the rotated files in order.
 *
 * Every container here ends by itself (`yes … | head -n N`, then `echo done`) and the test waits
 * for that with `minibox wait`: the monitor records the exit only after it drained the pipes into
 * the log, so the files are final when the sizes are read — no sleeps.
 *
 * Checked to fail on main (18d62ab): `--log-opt` was an unknown option (exit 125), and the
 * default-cap case left a single 40 MB container.log.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLimits, parseLogOptions } from '../../src/lifecycle/log-options.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { withWorld, type LifecycleWorld } from '../lifecycle/helpers.js';

let world: LifecycleWorld;
withWorld((started) => { world = started; });

/** `yes` with a PAD-byte line, N lines numbered by awk, then "done". */
function yesScript(pad: number, lines: number): string[] {
  return ['sh', '-c', `line=$(head -c ${pad} /dev/zero | tr '\\0' y); yes "$line" | head -n ${lines} | awk '{ print NR " " $0 }'; echo done`];
}

/** Runs it detached, waits for its end, and returns its log files (name → size). */
async function runToEnd(name: string, logOpts: string[], script: string[]): Promise<{ dir: string; files: Record<string, number> }> {
  const run = await world.mb(['run', '-d', '--network', 'none', '--name', name, ...logOpts.flatMap((o) => ['--log-opt', o]), world.image, ...script]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const waited = await world.mb(['wait', name]);
  expect(waited.stdout.trim()).toBe('0');
  const dir = path.join(world.root, 'containers', world.record(name)!.Id);
  const files = Object.fromEntries(fs.readdirSync(dir).filter((f) => f.startsWith('container.log'))
    .map((f) => [f, fs.statSync(path.join(dir, f)).size]));
  return { dir, files };
}

/** `minibox logs` lines: a contiguous run of numbered lines ending with the last one, then "done". */
async function expectNewestOutputInOrder(name: string, lastNumber: number): Promise<number> {
  const logs = await world.mb(['logs', name]);
  expect(logs.code).toBe(0);
  const lines = logs.stdout.trimEnd().split('\n');
  expect(lines.pop()).toBe('done');
  const numbers = lines.map((line) => Number(line.split(' ')[0]));
  expect(numbers[numbers.length - 1]).toBe(lastNumber);
  numbers.forEach((number, index) => expect(number, `line ${index} of logs`).toBe(numbers[0]! + index));
  return numbers[0]!;
}

const sum = (files: Record<string, number>): number => Object.values(files).reduce((a, b) => a + b, 0);

describe('the json-file log of a container printing `yes`', () => {
  it('stays within max-size × max-file, the newest output kept and read back in order', async () => {
    // 2500 entries of ~2 KB: about 5 MB written into a 1m × 3 cap.
    const { files } = await runToEnd('yes-capped', ['max-size=1m', 'max-file=3'], yesScript(2000, 2500));
    expect(Object.keys(files).sort()).toEqual(['container.log', 'container.log.1', 'container.log.2']);
    for (const [file, size] of Object.entries(files)) expect(size, file).toBeLessThanOrEqual(1_000_000);
    expect(sum(files)).toBeLessThanOrEqual(3 * 1_000_000);
    const oldest = await expectNewestOutputInOrder('yes-capped', 2500);
    expect(oldest, 'the oldest output was rotated away').toBeGreaterThan(1);
    expect((await world.mb(['inspect', '--format', '{{json .HostConfig.LogConfig}}', 'yes-capped'])).stdout.trim())
      .toBe('{"Type":"json-file","Config":{"max-file":"3","max-size":"1m"}}');
  });

  it('is capped by default at 10m × 3', async () => {
    // 5000 entries of ~8 KB: about 40 MB written.
    const { files } = await runToEnd('yes-default', [], yesScript(8000, 5000));
    expect(Object.keys(files)).toHaveLength(3);
    expect(sum(files)).toBeLessThanOrEqual(3 * 10_000_000);
    await expectNewestOutputInOrder('yes-default', 5000);
  });

  it('with max-file=1, truncates the one file', async () => {
    const { files } = await runToEnd('yes-one', ['max-size=100k', 'max-file=1'], yesScript(1000, 400));
    expect(Object.keys(files)).toEqual(['container.log']);
    expect(files['container.log']).toBeLessThanOrEqual(100_000);
    await expectNewestOutputInOrder('yes-one', 400);
  });

  it('logs -f follows across rotations: in order, without repeats, to the end', async () => {
    const run = await world.mb(['run', '-d', '--network', 'none', '--name', 'yes-follow', '--log-opt', 'max-size=200k',
      '--log-opt', 'max-file=5', world.image, ...yesScript(1000, 2000)]);
    expect(run.code).toBe(0);
    const followed = await world.mb(['logs', '-f', 'yes-follow']);
    const lines = followed.stdout.trimEnd().split('\n');
    expect(lines.pop()).toBe('done');
    const numbers = lines.map((line) => Number(line.split(' ')[0]));
    expect(numbers[numbers.length - 1]).toBe(2000);
    numbers.forEach((number, index) => { if (index > 0) expect(number, `line ${index}`).toBeGreaterThan(numbers[index - 1]!); });
  });
});

describe('bad --log-opt values', () => {
  it.each([
    ['foo=bar', "unknown log opt 'foo' for json-file log driver"],
    ['max-size=0', 'invalid --log-opt max-size=0: max-size must be a positive size such as 10m, 512k or 1g'],
    ['max-size=lots', 'invalid --log-opt max-size=lots: max-size must be a positive size such as 10m, 512k or 1g'],
    ['max-file=0', 'invalid --log-opt max-file=0: max-file must be a whole number from 1 to 1000'],
    ['compress=true', '--log-opt compress is not supported by minibox yet (only max-size and max-file)'],
    ['max-size', 'invalid --log-opt "max-size": expected KEY=VALUE, e.g. max-size=10m'],
  ])('--log-opt %s: one line, exit 125, nothing made', async (option, message) => {
    expect(() => parseLogOptions([option])).toThrow(message);
    const before = fs.readdirSync(path.join(world.root, 'containers'));
    const run = await world.mb(['run', '--network', 'none', '--log-opt', option, world.image, 'true']);
    expect(run.stderr).toBe(`minibox: ${message}. See 'minibox run --help'.\n`);
    expect(run.code).toBe(125);
    expect(fs.readdirSync(path.join(world.root, 'containers'))).toEqual(before);
  });

  it('reads sizes in decimal units, as Docker does, over the defaults', () => {
    expect(logLimits(parseLogOptions(['max-size=1m']))).toEqual({ maxSize: 1_000_000, maxFiles: 3 });
    expect(logLimits(parseLogOptions(['max-size=1.5k', 'max-file=7']))).toEqual({ maxSize: 1500, maxFiles: 7 });
    expect(logLimits(undefined)).toEqual({ maxSize: 10_000_000, maxFiles: 3 }); // a record made before log options
  });
});
