/**
 * `minibox run` end to end: the built CLI, a real registry, real namespaces and overlay mounts.
 * Needs `npx tsc -p .` first (the CLI runs from dist/).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContainerStore } from '../../src/container/container-store.js';
import { removeContainer } from '../../src/lifecycle/create.js';
import { ImageStore } from '../../src/image/store/images.js';
import { StateRoot } from '../../src/state-root.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { bin, mbAsync, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

let registry: TestRegistry;
let root: string;
let image: string;

function run(args: string[], input?: string) {
  return mbAsync(root, ['--insecure-registry', registry.host, 'run', ...args], input === undefined ? {} : { input });
}

function containers(): string[] {
  const dir = path.join(root, 'containers');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

beforeAll(async () => {
  registry = await startRegistry();
  pushLayout(busyboxImageLayout(), 'latest', `${registry.host}/busybox:latest`);
  root = tempRoot();
  image = `${registry.host}/busybox:latest`;
  const first = await run(['--rm', image, 'true']); // pulls on first use
  expect(first.stderr).toContain(`Unable to find image '${image}' locally`);
  expect(first.code).toBe(0);
});

afterEach(() => expectNoLeaks(root));

afterAll(async () => {
  const state = new StateRoot(root);
  for (const id of containers()) await removeContainer(state, id);
  expectNoLeaks(root);
  await registry?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('exit codes', () => {
  it.each([
    [['true'], 0],
    [['sh', '-c', 'exit 3'], 3],
    [['/etc/passwd'], 126],
    [['/no/such/program'], 127],
    // PID 1 of a pid namespace cannot be SIGKILLed from inside, so a child is killed instead.
    [['sh', '-c', 'sleep 100 & kill -9 $!; wait $!'], 137],
  ])('%j exits %i and --rm leaves nothing', async (command, code) => {
    const result = await run(['--rm', '-q', image, ...command]);
    expect(result.code).toBe(code);
    expect(containers()).toEqual([]);
  });
});

describe('signals', () => {
  it('SIGTERM to minibox reaches the container, and --rm still cleans up', async () => {
    const child = spawn(process.execPath, [bin, '--root', root, 'run', '--rm', image, 'sh', '-c',
      'trap "echo got-term; exit 143" TERM; echo ready; while true; do sleep 0.1; done'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('ready')) resolve();
      });
    });
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
    expect(stdout).toContain('got-term');
    expect(code).toBe(143);
    expect(containers()).toEqual([]);
  });
});

describe('the container sees what the flags say', () => {
  it('env, hostname, workdir, user and the image command', async () => {
    const result = await run(['--rm', '-e', 'A=1', '--hostname', 'box', '-w', '/srv/app', '-u', 'app', image,
      'sh', '-c', 'echo "$A $HOSTNAME $HOME $(pwd) $(id -u) $(hostname)"']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('1 box /home/app /srv/app 1000 box\n');
  });

  it('options after the image belong to the command', async () => {
    const result = await run(['--rm', image, 'echo', '-e', 'a\\tb']);
    expect(result.stdout).toBe('a\tb\n');
  });

  it('stdin reaches the container only with -i', async () => {
    expect((await run(['--rm', '-i', image, 'cat'], 'piped\n')).stdout).toBe('piped\n');
    expect((await run(['--rm', image, 'cat'], 'piped\n')).stdout).toBe('');
  });

  it('--entrypoint replaces the image command', async () => {
    const result = await run(['--rm', '--entrypoint', 'echo', image, 'hello']);
    expect(result.stdout).toBe('hello\n');
  });
});

describe('file systems', () => {
  it('two containers do not see each other\'s writes, and the image layer is unchanged', async () => {
    const a = await run(['--name', 'writer', image, 'sh', '-c', 'echo a > /etc/x; cat /etc/x']);
    expect(a.stdout).toBe('a\n');
    const b = await run(['--name', 'reader', image, 'cat', '/etc/x']);
    expect(b.code).toBe(1);
    const store = new ContainerStore(new StateRoot(root));
    const writer = store.findByName('writer')!;
    expect(writer.State).toMatchObject({ Status: 'exited', ExitCode: 0, Running: false });
    expect(fs.readFileSync(path.join(store.paths(writer.Id).upper, 'etc', 'x'), 'utf8')).toBe('a\n');
    const images = new ImageStore(new StateRoot(root));
    const record = images.resolve(image)!;
    for (const layer of record.layers) expect(fs.existsSync(path.join(images.layers.dir(layer.diffId), 'etc', 'x'))).toBe(false);

    const conflict = await run(['--name', 'writer', image, 'true']);
    expect(conflict.code).toBe(125);
    expect(conflict.stderr).toBe(`minibox: Conflict. The container name "/writer" is already in use by container "${writer.Id}". You have to remove (or rename) that container to be able to reuse that name.\n`);
    for (const id of containers()) await removeContainer(new StateRoot(root), id);
  });

  it('a named volume survives --rm; the upper dir does not', async () => {
    const write = await run(['--rm', '-v', 'data:/data', image, 'sh', '-c', 'echo hi > /data/f; echo gone > /f']);
    expect(write.code).toBe(0);
    const read = await run(['--rm', '-v', 'data:/data:ro', image, 'sh', '-c', 'cat /data/f; cat /f 2>/dev/null; touch /data/g 2>/dev/null || echo ro']);
    expect(read.stdout).toBe('hi\nro\n');
    const ls = await mbAsync(root, ['volume', 'ls', '-q']);
    expect(ls.stdout).toBe('data\n');
    expect((await mbAsync(root, ['volume', 'rm', 'data'])).code).toBe(0);
  });

  // Fails on main (checked: the --rm root's super options there lack `volatile`).
  it('a --rm container\'s writable layer is a volatile overlay (never synced); a kept one\'s is not', async () => {
    const rootMount = (lines: string) => lines.split('\n').find((line) => line.split(' ')[4] === '/') ?? '';
    const superOptions = (line: string) => line.split(' - ')[1]?.split(' ')[2]?.split(',') ?? [];
    const thrown = await run(['--rm', image, 'cat', '/proc/self/mountinfo']);
    expect(superOptions(rootMount(thrown.stdout)).some((option) => /^(fsync=)?volatile$/.test(option))).toBe(true);
    const kept = await run(['--name', 'kept', image, 'cat', '/proc/self/mountinfo']);
    expect(rootMount(kept.stdout)).toContain(' - overlay ');
    expect(superOptions(rootMount(kept.stdout)).some((option) => option.includes('volatile'))).toBe(false);
    for (const id of containers()) await removeContainer(new StateRoot(root), id);
  });

  it('an anonymous volume is removed with --rm', async () => {
    const result = await run(['--rm', '-v', '/scratch', image, 'sh', '-c', 'echo x > /scratch/f']);
    expect(result.code).toBe(0);
    expect((await mbAsync(root, ['volume', 'ls', '-q'])).stdout).toBe('');
  });
});

describe('the json-file log of a foreground run', () => {
  // Seen to fail on main before json-file-log.ts: `logs fg` printed nothing (no container.log).
  it('logs of an exited foreground container shows its output, entry for entry as the monitor writes it', async () => {
    const script = 'echo out; echo "<&>" >&2; head -c 20000 /dev/zero | tr "\\0" a; echo; printf tail';
    const fg = await run(['--name', 'fg', '--network', 'none', image, 'sh', '-c', script]);
    expect(fg.code).toBe(0);
    const logs = await mbAsync(root, ['logs', 'fg']);
    expect(logs.stdout).toBe(fg.stdout);
    expect(logs.stderr).toBe('<&>\n');
    expect(fg.stdout).toMatch(/^out\na{20000}\ntail$/);

    const bg = await run(['-d', '--name', 'bg', '--network', 'none', image, 'sh', '-c', script]);
    expect(bg.code).toBe(0);
    expect((await mbAsync(root, ['wait', 'bg'])).stdout).toBe('0\n');
    const store = new ContainerStore(new StateRoot(root));
    const entries = (name: string): unknown[] => fs.readFileSync(store.paths(store.findByName(name)!.Id).log, 'utf8')
      .trimEnd().split('\n').map((line) => {
        const { time, ...rest } = JSON.parse(line) as { time: string };
        expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
        return rest;
      });
    // 16 KiB pieces, HTML-safe escapes, a last line without newline: the same entries either way
    // (per stream: how stdout and stderr interleave is up to the scheduler)
    const byStream = (list: unknown[]): unknown[] => [...list].sort((a, b) =>
      (a as { stream: string }).stream.localeCompare((b as { stream: string }).stream));
    expect(byStream(entries('fg'))).toEqual(byStream(entries('bg')));
    expect(entries('fg')).toHaveLength(5);
    expect(fs.readFileSync(store.paths(store.findByName('fg')!.Id).log, 'utf8')).toContain('"log":"\\u003c\\u0026\\u003e\\n"');
    expect((await mbAsync(root, ['rm', 'fg', 'bg'])).code).toBe(0);
  });

  it('with -t, what the terminal showed is logged as stdout (the pty turns \\n into \\r\\n), as Docker logs a tty', async () => {
    const tty = await run(['-t', '--name', 'tty', '--network', 'none', image, 'sh', '-c', 'echo out; printf err >&2']);
    expect(tty).toMatchObject({ code: 0, stdout: 'out\r\nerr' });
    expect(await mbAsync(root, ['logs', 'tty'])).toMatchObject({ stdout: 'out\r\nerr', stderr: '' });
    expect((await mbAsync(root, ['rm', 'tty'])).code).toBe(0);
  });
});

describe('bad input: one line, exit 125, nothing created', () => {
  it.each([
    [['-q', '--pull', 'never', 'nosuchimage'], /^minibox: No such image: nosuchimage/],
    [['-q', 'UPPER/case'], /^minibox: invalid reference format/],
    [['-q', '-u', 'bob', 'IMAGE', 'true'], /^minibox: unable to find user bob: no matching entries in passwd file$/],
    [['-q', '--entrypoint', '', 'IMAGE'], /^minibox: no command specified$/],
    [['-q', '-v', 'rel:ctr', 'IMAGE', 'true'], /^minibox: invalid volume specification: 'rel:ctr'/],
    [['-q', '-v', '/a:/', 'IMAGE', 'true'], /destination can't be '\/'/],
    [['-q', '--cap-add', 'FLY', 'IMAGE', 'true'], /unknown capability/],
    [['-q', '--network', 'weird', 'IMAGE', 'true'], /network weird not found/],
  ])('%j', async (args, message) => {
    const result = await run(args.map((arg) => (arg === 'IMAGE' ? image : arg)));
    expect(result.code).toBe(125);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr.trimEnd()).toMatch(message);
    expect(containers()).toEqual([]);
  });
});
