/**
 * Every module of src/ opens with a lesson, and every lesson ends with something to try and what
 * it prints. This test holds the lessons to their word: it reads each module's header, extracts
 * its Try lines, and runs the runnable ones — so a lesson that stops being true fails the suite.
 *
 * The convention (machine-checkable, also readable):
 *
 *     Try: `COMMAND` → `EXPECTED`
 *
 * in the module's first comment block; a header may have several, and a line may wrap (the
 * pieces are joined with one space). EXPECTED must appear in what COMMAND prints (stdout and
 * stderr together); `…` in it stands for anything. COMMAND runs under `bash -c` as root, in a
 * scratch directory, with `minibox` on PATH bound to a temporary state root ($MINIBOX_ROOT) where
 * the busybox test image is pulled and tagged `busybox` (so a lesson can say `minibox run --rm
 * busybox …`); `$IMAGE` is that image as pulled from the local registry `$REGISTRY`.
 * `minibox-runc` is on PATH too, and `$BUNDLE` is a ready OCI bundle (busybox rootfs, the config
 * of `minibox-runc spec` running `sleep 1000` without a terminal) for the runtime's lessons.
 * Containers, volumes, networks, image mounts and minibox-runc containers a Try line leaves are
 * removed after it, and `busybox` is tagged again if a line removed it.
 *
 * Why it takes ~4 minutes (about 170 lines, most of them start a container): that is the cost of
 * running every lesson for real. It is kept there by sharing one state root and one pull for all
 * lines, and by tidying only what a line left: the root's directories are looked at first, and
 * minibox runs only for what is there.
 *
 * A Try line that cannot run here says so in NOT_RUNNABLE below, with the reason: it needs two
 * terminals, a cgroup v2 host (the VM tier), Docker Hub, or a program this machine has not.
 * Those still must follow the convention.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/image/store/images.js';
import { StateRoot } from '../../src/state-root.js';
import { sourceFiles, srcDir } from '../helpers/source-files.js';
import { bin, minibox } from '../helpers/minibox.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';
import { makeBundle, runc, runcBin } from '../oci-runtime/helpers.js';

const src = srcDir;

/** file (relative to src/) → why its Try lines are not run here. */
const NOT_RUNNABLE: Record<string, string> = {
  'image/registry/bearer.ts': 'asks Docker Hub for a token: the suite runs without the internet',
  'image/registry/challenge.ts': 'reads Docker Hub\'s challenge: the suite runs without the internet',
  'image/registry/blob.ts': 'needs a Ctrl-C in the middle of a big pull (test/registry/faults.test.ts breaks connections mid-blob instead)',
  'cli/prompt.ts': 'types a password on a terminal (test/registry/login-cli.test.ts drives one in tmux)',
  'runtime/terminal-relay.ts': 'needs a real terminal (test/runtime/terminal.test.ts drives one in tmux)',
  'runtime/rootfs/upper-filesystem.ts': 'prints the file system of this machine\'s state root, whichever it is',
  'sys/mount-fd.ts': 'mounts over the host\'s /mnt',
  'runtime/signal-relay.ts': 'needs job control (`kill %1` in an interactive shell)',
  'sys/openat2.ts': 'a kernel call, not a command (test/runtime/resolve-in-root.test.ts makes it)',
  'oci/console-socket.ts': 'needs runc\'s recvtty and a terminal (test/oci-runtime/lifecycle.test.ts receives the pty itself)',
  'sys/scm-rights.ts': 'needs socat and a terminal (test/oci-runtime/lifecycle.test.ts receives the pty itself)',
  // Arrived from the image-authoring work while this test was written; their lines are Dockerfile
  // text or name the reader's own container (CTR): to be rewritten as runnable commands.
  'build/copy-files.ts': 'a .dockerignore line, not a command',
  'build/dockerfile.ts': 'a Dockerfile line, not a command',
  'build/stages.ts': 'a Dockerfile fragment, not a command',
  'image/pack/config-changes.ts': 'names the reader\'s container CTR',
  // The Engine API: each line talks to a running `minibox serve` (and most with a docker CLI);
  // test/api/*.test.ts start one and run the same commands.
  ...Object.fromEntries([
    'api-errors', 'api-version', 'attach', 'attach-stdin', 'container-routes', 'container-wait', 'create-body',
    'json-stream', 'push-route', 'commit-route', 'build-route', 'build-context', 'archive-routes', 'events-route', 'image-and-file-routes',
    'exec-routes', 'image-routes', 'registry-auth', 'request', 'resource-routes', 'routes', 'server', 'stream-framing',
    'terminal-session', 'create-mounts', 'container-admin-routes', 'stats-route',
  ].map((name) => [`api/${name}.ts`, 'needs a running minibox serve on /tmp/mb.sock (test/api/*.test.ts start one)'])),
  // The course runner reads ../shared/course, outside the repository (and was being written meanwhile).
  'cli/commands/lesson-command.ts': 'reads the course in ../shared/course, outside the repository',
  'lessons/lab-images.ts': 'reads the course in ../shared/course, outside the repository',
  'lessons/lesson-file.ts': 'reads the course in ../shared/course, outside the repository',
  'lessons/lesson-runner.ts': 'reads the course in ../shared/course, outside the repository',
};

/**
 * A paragraph that starts `Try (cgroup v2):` is run only on a pure cgroup v2 host; the limits
 * themselves are tested in the VM tier (test/vm) on hosts that are not.
 */
const onCgroupV2 = (() => {
  try {
    return fs.readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').trim() !== '';
  } catch {
    return false;
  }
})();

export interface TryLine { file: string; command: string; expected: string; cgroupV2: boolean }


/** The paragraphs of the module's opening comment, each as one line (the ` * ` margins taken off). */
function headerParagraphs(file: string): string[] {
  const match = /^\s*\/\*\*([\s\S]*?)\*\//.exec(fs.readFileSync(file, 'utf8'));
  const lines = (match?.[1] ?? '').split('\n').map((line) => line.replace(/^\s*\* ?/, '').trim());
  return lines.join('\n').split(/\n{2,}/).map((paragraph) => paragraph.split('\n').filter(Boolean).join(' ')).filter(Boolean);
}

/** The `COMMAND` → `EXPECTED` pairs of the paragraphs that start with "Try". */
export function tryLines(file: string): TryLine[] {
  const relative = path.relative(src, file);
  return headerParagraphs(file).filter((paragraph) => paragraph.startsWith('Try'))
    .flatMap((paragraph) => [...paragraph.matchAll(/`([^`]+)` → `([^`]+)`/g)]
      .map((match) => ({ file: relative, command: match[1]!, expected: match[2]!, cgroupV2: paragraph.startsWith('Try (cgroup v2)') })));
}

/**
 * EXPECTED as a pattern: literal text, `…` = anything, any run of blanks = any whitespace. The
 * shortest texts must stand on their own: a word of up to 4 letters not inside a longer one (`hi`
 * does not match "which" in an error message), a bare number as a whole line (`1` does not match
 * "BusyBox v1.35.0" in a usage message).
 */
function expectedPattern(expected: string): RegExp {
  const literal = (part: string) => part.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+');
  if (/^\d+$/.test(expected.trim())) return new RegExp(`^\\s*${expected.trim()}\\s*$`, 'm');
  if (/^\w{1,4}$/.test(expected.trim())) return new RegExp(`(?<!\\w)${expected.trim()}(?!\\w)`);
  return new RegExp(expected.split('…').map(literal).join('[\\s\\S]*?'));
}

/**
 * `$IMAGE` (the busybox test image, `HOST:PORT/busybox:latest`), `$REGISTRY` (`HOST:PORT`) and
 * `$BUNDLE` (an OCI bundle for minibox-runc).
 */
function placeholders(image: string): Record<string, string> {
  return { IMAGE: image, REGISTRY: image.slice(0, image.indexOf('/')), BUNDLE: bundle };
}

const files = sourceFiles(src);

describe('every module teaches with a Try line that says what it prints', () => {
  it.each(files.map((file) => [path.relative(src, file), file]))('%s', (_name, file) => {
    expect(headerParagraphs(file as string), 'the module opens with a /** … */ lesson').not.toEqual([]);
    expect(tryLines(file as string), 'a Try line of the form Try: `COMMAND` → `EXPECTED`').not.toEqual([]);
  });

  it('a short EXPECTED cannot be found inside an error message', () => {
    expect('Error: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, which t is not').not.toMatch(expectedPattern('hi'));
    expect('exit status 125\n').not.toMatch(expectedPattern('1'));
    expect('  1\n').toMatch(expectedPattern('1'));
    expect('hi there').toMatch(expectedPattern('hi'));
  });

  it('NOT_RUNNABLE names only modules that exist', () => {
    for (const name of Object.keys(NOT_RUNNABLE)) expect(fs.existsSync(path.join(src, name)), name).toBe(true);
  });
});

const frame = pulledBusybox('busybox');

/**
 * One scratch PATH entry whose `minibox` runs this checkout; the state root comes from
 * $MINIBOX_ROOT (so a lesson may still say `--root DIR`).
 */
let binDir = '';
let bundle = '';
/** minibox-runc's default --root, where the runtime's lessons look. */
const RUNC_ROOT = '/run/minibox-runc';
beforeAll(() => {
  binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-try-bin-'));
  fs.writeFileSync(path.join(binDir, 'minibox'), `#!/bin/sh\nexec ${process.execPath} ${bin} "$@"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(binDir, 'minibox-runc'), `#!/bin/sh\nexec ${process.execPath} ${runcBin} "$@"\n`, { mode: 0o755 });
  bundle = makeBundle(binDir, 'bundle', (spec) => { spec.process.args = ['sleep', '1000']; });
  expect(minibox(frame.root, ['tag', frame.image, 'busybox']).code).toBe(0);
});
afterAll(() => { if (binDir) fs.rmSync(binDir, { recursive: true, force: true }); });

/** The entries of a state root's directory (none if it does not exist). */
function entries(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

/**
 * Puts the state root back as the next Try line expects it: no containers, volumes, user
 * networks or image mounts, and `busybox` tagged. It looks at the root's directories first and
 * runs minibox only for what is there, so a line that leaves nothing costs nothing.
 */
function tidy(root: string): void {
  const state = new StateRoot(root);
  const containers = entries(state.containers).filter((name) => /^[0-9a-f]{64}$/.test(name));
  if (containers.length > 0) minibox(root, ['rm', '-f', '-v', ...containers]);
  const volumes = entries(state.volumes).filter((name) => !name.startsWith('.'));
  if (volumes.length > 0) minibox(root, ['volume', 'rm', ...volumes]);
  const networks = entries(state.networks).filter((name) => !name.startsWith('.') && !['bridge', 'host', 'none'].includes(name));
  if (networks.length > 0) minibox(root, ['network', 'rm', ...networks]);
  if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${state.mounts}/`)) {
    for (const mounted of minibox(root, ['image', 'ls', '-q']).stdout.split('\n').filter(Boolean)) minibox(root, ['image', 'unmount', mounted]);
  }
  // Images a line built, committed or loaded, and the build cache, would keep busybox's layer
  // when a later line removes busybox to show a pull.
  const isBusybox = (tag: string) => /(^|\/)busybox:latest$/.test(tag);
  const images = new ImageStore(state).list();
  const others = images.filter((image) => !image.repoTags.some(isBusybox));
  if (others.length > 0) minibox(root, ['rmi', '-f', ...others.map((image) => image.id)]);
  const extraTags = images.filter((image) => image.repoTags.some(isBusybox)).flatMap((image) => image.repoTags.filter((tag) => !isBusybox(tag)));
  if (extraTags.length > 0) minibox(root, ['rmi', ...extraTags]); // untags only: busybox keeps its own
  if (fs.existsSync(path.join(root, 'builder', 'cache.json'))) minibox(root, ['builder', 'prune', '-f']);
  if (entries(RUNC_ROOT).includes('c1')) runc(RUNC_ROOT, ['delete', '--force', 'c1']);
  if (!new ImageStore(state).resolve('busybox')) {
    if (!new ImageStore(state).resolve(frame.image)) minibox(root, ['pull', '-q', frame.image]);
    minibox(root, ['tag', frame.image, 'busybox']);
  }
}

const runnable = files.flatMap(tryLines).filter((line) => !(line.file in NOT_RUNNABLE) && (onCgroupV2 || !line.cgroupV2));

describe('the Try lines print what they say', () => {
  it.each(runnable.map((line) => [`${line.file}: ${line.command}`, line]))('%s', (_name, line) => {
    const { command } = line as TryLine;
    const values = placeholders(frame.image);
    const expected = (line as TryLine).expected.replace(/\$(IMAGE|REGISTRY)\b/g, (_, name: string) => values[name]!);
    const root = frame.root;
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-try-'));
    try {
      const result = spawnSync('bash', ['-c', `exec 2>&1\n${command}`], {
        cwd: scratch, encoding: 'utf8', timeout: 60_000,
        env: { ...process.env, ...values, PATH: `${binDir}:${process.env.PATH ?? ''}`, MINIBOX_ROOT: root },
      });
      expect(result.stdout, `\`${command}\` (exit ${result.status})`).toMatch(expectedPattern(expected));
    } finally {
      tidy(root);
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});
