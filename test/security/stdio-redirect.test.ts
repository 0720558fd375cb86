/**
 * Host stdio is never handed to a container: `minibox run … >> FILE` (and `exec`) give the
 * container pipes that minibox copies (src/runtime/stdio-relay.ts), so reopening
 * /proc/self/fd/1 inside — with O_TRUNC, as `>` does — cannot touch FILE beyond the container's
 * own output.
 *
 * Fails on the main branch before the relay (checked against a checkout of 18d62ab): there fd 1
 * *was* FILE, `: > /proc/self/fd/1` truncated it and the line written before the run was gone;
 * `readlink /proc/self/fd/1` printed FILE's host path.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin } from '../helpers/minibox.js';
import { LifecycleFixture } from '../lifecycle/running-container.js';

const fixture = new LifecycleFixture();
let work: string;

/** The container's attack: where does fd 1 lead, then truncate it through /proc and write. */
const ATTACK = 'echo "fd1=$(readlink /proc/self/fd/1)"; : > /proc/self/fd/1; echo after-truncate > /proc/self/fd/1; echo own-output';

/** `minibox ARGS >> FILE 2>> FILE.err` through a shell, as a user would type it. */
function redirected(args: string[], file: string): number {
  const quoted = [process.execPath, bin, '--root', fixture.root, '--insecure-registry', fixture.registry.host, ...args]
    .map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  const result = spawnSync('sh', ['-c', `${quoted} >> '${file}' 2>> '${file}.err'`], { stdio: 'ignore', timeout: 120_000 });
  return result.status ?? -1;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-stdio-'));
  await fixture.setup();
  await fixture.start('holder', ['sleep', '300'], ['--network', 'none']);
});

afterAll(async () => {
  await fixture.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('a container cannot reopen the host file its output is redirected to', () => {
  it.each([
    ['run', ['run', '--rm', '--network', 'none', 'IMAGE', 'sh', '-c', ATTACK]],
    ['exec', ['exec', 'holder', 'sh', '-c', ATTACK]],
    ['exec -i', ['exec', '-i', 'holder', 'sh', '-c', ATTACK]],
  ])('%s: the host file keeps what was there, plus only the container\'s own output', (_name, args) => {
    const file = path.join(work, `out-${_name.replace(/\W/g, '')}`);
    fs.writeFileSync(file, 'written by the host before\n');
    const code = redirected(args.map((arg) => (arg === 'IMAGE' ? fixture.image : arg)), file);
    expect(code, fs.readFileSync(`${file}.err`, 'utf8')).toBe(0);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines[0]).toBe('written by the host before');
    expect(lines[1]).toMatch(/^fd1=pipe:\[\d+\]$/);
    expect(lines.slice(2)).toEqual(['after-truncate', 'own-output', '']);
  });
});
