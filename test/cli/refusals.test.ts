/**
 * What minibox refuses before it touches anything (issue 20, bugs 2 and 5):
 * - `-it` when standard input is not a terminal: Docker's "the input device is not a TTY", exit 1,
 *   at once, nothing created (on main it hung until killed: exit 137);
 * - any command run by a user other than root: one line saying minibox needs root and to try
 *   sudo (on main: a raw "EACCES: permission denied, scandir …"). The commands are enumerated
 *   from the commander program, so new ones are covered too.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { COMMAND_MODULES } from '../../src/cli/command-modules.js';
import { allCommands } from '../../src/cli/help.js';
import { commandPath } from '../../src/cli/context.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';
import { bin, minibox } from '../helpers/minibox.js';

const frame = pulledBusybox('refusals');

describe('-it without a terminal', () => {
  it('run -it with piped stdin exits 1 at once, creating nothing', () => {
    const before = fs.readdirSync(path.join(frame.root, 'containers'));
    const result = minibox(frame.root, ['run', '--rm', '-it', '--network', 'none', frame.image, 'sh'], { input: 'echo hi\n', timeoutMs: 20_000 });
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'minibox: the input device is not a TTY: use -i without -t to pipe input into a container\n' });
    expect(fs.readdirSync(path.join(frame.root, 'containers'))).toEqual(before);
  });

  it('exec -it with piped stdin exits 1 the same way; -i alone pipes input', () => {
    expect(minibox(frame.root, ['run', '-d', '--name', 'idle', '--network', 'none', frame.image, 'sleep', '100']).code).toBe(0);
    try {
      const refused = minibox(frame.root, ['exec', '-it', 'idle', 'sh'], { input: 'echo hi\n', timeoutMs: 20_000 });
      expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/^minibox: the input device is not a TTY/) });
      expect(minibox(frame.root, ['exec', '-i', 'idle', 'sh'], { input: 'echo piped\n' })).toMatchObject({ code: 0, stdout: 'piped\n' });
    } finally {
      expect(minibox(frame.root, ['rm', '-f', 'idle']).code).toBe(0);
    }
  });

  it('start -ai of a container made with -t refuses piped stdin the same way', () => {
    expect(minibox(frame.root, ['run', '-t', '--name', 'tty1', '--network', 'none', frame.image, 'true']).code).toBe(0);
    try {
      const refused = minibox(frame.root, ['start', '-ai', 'tty1'], { input: 'x\n', timeoutMs: 20_000 });
      expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/^minibox: the input device is not a TTY/) });
    } finally {
      expect(minibox(frame.root, ['rm', '-f', 'tty1']).code).toBe(0);
    }
  });
});

describe('a user other than root', () => {
  // Commands that need no root: they read or write only the user's own files, or just print.
  const rootless = new Set(['minibox version', 'minibox login', 'minibox logout', 'minibox doctor']);

  /** `minibox image ls` → its words with a placeholder for each required argument. */
  function argsFor(command: Command): string[] {
    return [...commandPath(command).split(' ').slice(1), ...command.registeredArguments.filter((a) => a.required).map(() => 'x')];
  }

  it('gets one line saying minibox needs root, for every command', async () => {
    const program = await buildProgram(COMMAND_MODULES);
    const leaves = allCommands(program).filter((command) => command.commands.length === 0 && !rootless.has(commandPath(command)));
    expect(leaves.length).toBeGreaterThan(40);
    for (const command of leaves) {
      const args = argsFor(command);
      const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bin, '--root', frame.root, ...args],
        { encoding: 'utf8', input: '', timeout: 30_000 });
      expect({ args, code: result.status, stderr: result.stderr }).toEqual({
        args,
        code: 125,
        stderr: `minibox: this command needs root (minibox mounts file systems, creates namespaces and keeps root-only state): try 'sudo ${commandPath(command)}'\n`,
      });
    }
  }, 120_000);
});

describe('a missing container, as Docker\'s CLI reports it', () => {
  // Fails on main (checked): port exited 125, and stats/update complained about cgroup v2 first.
  it.each([
    ['port', 'nope'], ['stats', '--no-stream', 'nope'], ['update', '--memory', '64m', 'nope'], ['container', 'inspect', 'nope'],
    ['start', '-a', 'nope'], ['top', 'nope'], ['diff', 'nope'], ['logs', 'nope'], ['rename', 'nope', 'other'], ['cp', 'nope:/etc', '/tmp'],
  ])('%s … exits 1 with "No such container: nope"', (...args: string[]) => {
    const result = minibox(frame.root, args);
    expect(result.stderr).toBe('minibox: No such container: nope\n');
    expect(result.code).toBe(1);
  });
});
