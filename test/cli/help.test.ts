/**
 * Every command's `--help`, as a Docker user reads it (issue 20): an "Examples:" section, lines of
 * at most 100 columns, Docker's usage shapes, and no "(default: [])". The commands are enumerated
 * from the commander program itself, so a command added later is checked without editing this file.
 * On main before this change, no page had examples and `run --help` had 140-column lines.
 */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { COMMAND_MODULES } from '../../src/cli/command-modules.js';
import { allCommands } from '../../src/cli/help.js';
import { commandPath } from '../../src/cli/context.js';
import { minibox, tempRoot } from '../helpers/minibox.js';

const root = tempRoot('mb-help-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const program = await buildProgram(COMMAND_MODULES);
const paths = ['minibox', ...allCommands(program).map(commandPath)];

describe('--help of every command', () => {
  it('covers the groups and their subcommands', () => {
    expect(paths).toEqual(expect.arrayContaining(['minibox run', 'minibox image ls', 'minibox container prune', 'minibox network create']));
  });

  it.each(paths)('%s --help: examples, ≤ 100 columns, Docker-shaped usage', (path) => {
    const words = path.split(' ').slice(1);
    const result = minibox(root, [...words, '--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.split('\n');
    const tooWide = lines.filter((line) => [...line].length > 100);
    expect(tooWide, 'lines wider than 100 columns').toEqual([]);
    expect(result.stdout).toMatch(/\nExamples:\n {2}minibox /);
    expect(result.stdout).not.toContain('(default: [])');
    const usage = lines[0]!;
    expect(usage.startsWith(`Usage: ${path}`)).toBe(true);
    expect(usage).not.toMatch(/\[options\]|<[a-z]/); // `[OPTIONS] IMAGE`, never `[options] <image>`
  });
});

describe('the program without a command', () => {
  it('prints its help to stdout and exits 0, with Docker\'s footer', () => {
    const result = minibox(root, []);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^Usage: minibox \[OPTIONS\] COMMAND/);
    expect(result.stdout).toContain("Run 'minibox COMMAND --help' for more information on a command.");
  });

  it('a command group without a command prints its help to stdout and exits 0, as `docker image`', () => {
    const result = minibox(root, ['image']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe(minibox(root, ['image', '--help']).stdout);
  });

  it('help COMMAND shows the same page as COMMAND --help', () => {
    expect(minibox(root, ['help', 'run']).stdout).toBe(minibox(root, ['run', '--help']).stdout);
  });

  it('rmi and tag name their arguments', () => {
    expect(minibox(root, ['rmi', '--help']).stdout).toMatch(/^Usage: minibox rmi \[OPTIONS\] IMAGE \[IMAGE\.\.\.\]/);
    expect(minibox(root, ['tag', '--help']).stdout).toMatch(/^Usage: minibox tag SOURCE_IMAGE\[:TAG\] TARGET_IMAGE\[:TAG\]/);
  });

  it('version and info answer, also with --format', () => {
    expect(minibox(root, ['version']).stdout).toMatch(/^minibox:\n Version: +\d+\.\d+\.\d+/);
    expect(minibox(root, ['version', '--format', '{{.Version}}']).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const info = minibox(root, ['info']);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/^Containers: 0\n Running: 0\n/);
    expect(info.stdout).toContain(`minibox Root Dir: ${root}`);
    expect(minibox(root, ['info', '--format', '{{.Images}} {{.Driver}}']).stdout).toBe('0 overlay\n');
  });
});

describe('one error style, naming the command', () => {
  it.each([
    [['run', '--nope', 'x'], "minibox: unknown option '--nope' (did you mean --name?). See 'minibox run --help'.\n", 125],
    [['tag', 'a'], "minibox: missing required argument 'target_image'. See 'minibox tag --help'.\n", 125],
    [['nope'], "minibox: 'nope' is not a minibox command. See 'minibox --help'.\n", 125],
    [['image', 'nope'], "minibox: 'nope' is not a minibox image command. See 'minibox image --help'.\n", 125],
    [['run', '--pull', 'sometimes', 'x'], `minibox: invalid pull option: 'sometimes': must be one of "always", "missing" or "never". See 'minibox run --help'.\n`, 125],
    [['rmi', 'nope'], 'minibox: No such image: nope\n', 1],
  ])('minibox %j', (args, stderr, code) => {
    expect(minibox(root, args)).toEqual({ code, stdout: '', stderr });
  });
});
