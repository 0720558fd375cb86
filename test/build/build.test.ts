/**
 * `minibox build` against the real reference, buildah: the same multi-stage context built by
 * both gives the same root file system and the same config; then the build cache, the image's
 * life after the build (run, push, pull elsewhere), and the refusals.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MNT, umount } from '../../src/sys/mount.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { minibox, tempRoot } from '../helpers/minibox.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';
import { snapshotTree, type TreeSnapshot } from '../helpers/tree-snapshot.js';

const frame = pulledBusybox('build/busybox');
let work: string;
let context: string;

function mb(args: string[], root = frame.root) {
  return minibox(root, args);
}

function ok(args: string[], root = frame.root): string {
  const result = mb(args, root);
  expect(result.code, `minibox ${args.join(' ')}: ${result.stdout}${result.stderr}`).toBe(0);
  return result.stdout.trim();
}

const DOCKERFILE = `# syntax=docker/dockerfile:1
# escape=\\
ARG BASE
FROM \${BASE} AS build
ARG GREETING=hello
ENV APP_HOME=/src
WORKDIR \${APP_HOME}
COPY *.sh ./
COPY --chown=1000:1000 data/ /data/
RUN sh build.sh "$GREETING" > /out.sh && \\
    chmod 755 /out.sh

FROM \${BASE} AS test
RUN echo "this stage is never built" && exit 9

FROM \${BASE}
LABEL org.example.kind=lesson version="1.0"
EXPOSE 8080/tcp 53/udp
RUN rm /etc/group && mkdir -p /var/lib/app && echo state > /var/lib/app/state
COPY --from=build /out.sh /usr/local/bin/app
COPY --from=build --chown=1000:1000 /data /srv/data
COPY keep.log /logs/
ADD archive.tar.gz /opt/
VOLUME ["/logs"]
WORKDIR /home/app
USER 1000:1000
STOPSIGNAL SIGTERM
ENV MODE=production
ENTRYPOINT ["/usr/local/bin/app"]
CMD ["--help"]
`;

function writeContext(dir: string): void {
  fs.mkdirSync(path.join(dir, 'data/sub'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'secret'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE);
  fs.writeFileSync(path.join(dir, 'build.sh'), 'printf "#!/bin/sh\\necho %s from the build stage \\"\\$@\\"\\n" "$1"\n');
  fs.writeFileSync(path.join(dir, 'data/a.txt'), 'a\n');
  fs.writeFileSync(path.join(dir, 'data/sub/b.txt'), 'b\n');
  fs.writeFileSync(path.join(dir, 'keep.log'), 'kept\n');
  fs.writeFileSync(path.join(dir, 'drop.log'), 'dropped\n');
  fs.writeFileSync(path.join(dir, 'secret/key'), 'never in an image\n');
  fs.writeFileSync(path.join(dir, '.dockerignore'), '*.log\n!keep.log\nsecret/\n');
  const archive = path.join(dir, 'archive-src');
  fs.mkdirSync(path.join(archive, 'x'), { recursive: true });
  fs.writeFileSync(path.join(archive, 'x/y.txt'), 'from the archive\n');
  execFileSync('tar', ['-czf', path.join(dir, 'archive.tar.gz'), '-C', archive, '--owner=0', '--group=0', 'x']);
  fs.rmSync(archive, { recursive: true });
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-build-'));
  context = path.join(work, 'context');
  fs.mkdirSync(context);
  writeContext(context);
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

function imageTree(image: string): TreeSnapshot {
  const dir = ok(['image', 'mount', image]);
  try {
    return snapshotTree(dir, { mtimes: 'none' });
  } finally {
    ok(['image', 'unmount', image]);
  }
}

interface ComparableConfig {
  Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; User?: string;
  ExposedPorts?: object; Labels?: Record<string, string>; Volumes?: object; StopSignal?: string;
}

function comparable(config: ComparableConfig): object {
  const labels = { ...(config.Labels ?? {}) };
  delete labels['io.buildah.version'];
  return {
    Env: [...(config.Env ?? [])].sort(), Cmd: config.Cmd, Entrypoint: config.Entrypoint, WorkingDir: config.WorkingDir,
    User: config.User, ExposedPorts: config.ExposedPorts, Labels: labels, Volumes: config.Volumes, StopSignal: config.StopSignal,
  };
}

describe('build', () => {
  it('builds the same root file system and config as buildah from the same context', () => {
    const built = mb(['build', '-t', 'lesson:1', '--network', 'none', '--build-arg', `BASE=${frame.image}`, context]);
    expect(built.code, built.stdout + built.stderr).toBe(0);
    expect(built.stdout).toMatch(/^Step 1\/\d+ : ARG BASE|^Step 1\/\d+ : FROM/m);
    expect(built.stdout).not.toMatch(/never built/);
    expect(built.stdout).toMatch(/Successfully built [0-9a-f]{12}\nSuccessfully tagged lesson:1/);
    expect(ok(['run', '--rm', '--network', 'none', 'lesson:1'])).toBe('hello from the build stage --help');

    const storage = path.join(work, 'buildah');
    const buildah = (...args: string[]) => execFileSync('buildah', ['--root', path.join(storage, 'root'), '--runroot', path.join(storage, 'run'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
    try {
      buildah('build', '--isolation', 'chroot', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1000:1000', '--tls-verify=false',
        '--build-arg', `BASE=${frame.image}`, '-t', 'reference', context);
      const layout = path.join(work, 'reference-layout');
      buildah('push', '--quiet', 'reference', `oci:${layout}:ref`);
      const bundle = path.join(work, 'reference-bundle');
      execFileSync('umoci', ['unpack', '--image', `${layout}:ref`, bundle], { stdio: ['ignore', 'ignore', 'pipe'] });
      const reference = snapshotTree(path.join(bundle, 'rootfs'), { mtimes: 'none' });
      const ours = imageTree('lesson:1');
      delete reference.nodes['.'];
      delete ours.nodes['.'];
      // buildah leaves the mount points of its RUN containers in the image (empty /etc files and
      // /run); Docker and minibox keep those out of the layers (lifecycle/diff.ts).
      for (const artefact of ['etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'run']) {
        const node = reference.nodes[artefact];
        if (node && (node.type === 'dir' || node.size === 0) && !ours.nodes[artefact]) delete reference.nodes[artefact];
      }
      expect(ours).toEqual(reference);
      expect(ours.nodes['logs/drop.log']).toBeUndefined();
      expect(ours.nodes['logs/keep.log']).toBeDefined();
      expect(ours.nodes['etc/group']).toBeUndefined();
      expect(ours.nodes['srv/data/sub/b.txt']?.uid).toBe(1000);

      const referenceConfig = JSON.parse(execFileSync('skopeo', ['inspect', '--config', '--raw', `oci:${layout}:ref`], { encoding: 'utf8' })) as { config: ComparableConfig };
      const ourConfig = JSON.parse(ok(['inspect', '--type', 'image', '--format', '{{json .Config}}', 'lesson:1'])) as ComparableConfig;
      expect(comparable(ourConfig)).toEqual(comparable(referenceConfig.config));
    } finally {
      spawnSync('buildah', ['--root', path.join(storage, 'root'), '--runroot', path.join(storage, 'run'), 'rm', '--all'], { stdio: 'ignore' });
      spawnSync('buildah', ['--root', path.join(storage, 'root'), '--runroot', path.join(storage, 'run'), 'rmi', '--all', '--force'], { stdio: 'ignore' });
      for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
        const target = line.split(' ')[4];
        if (target?.startsWith(storage)) try { umount(target, MNT.DETACH); } catch { /* gone */ }
      }
    }
  });

  it('uses the cache: every step the second time, from an edited COPY on after an edit, none with --no-cache', () => {
    const args = ['build', '-t', 'lesson:1', '--network', 'none', '--build-arg', `BASE=${frame.image}`, context];
    const again = ok(args);
    expect(again).not.toMatch(/Removing intermediate container/); // no container started
    const steps = (again.match(/^Step /gm) ?? []).length;
    const froms = (again.match(/^Step \d+\/\d+ : FROM/gm) ?? []).length;
    expect((again.match(/ ---> Using cache/g) ?? []).length).toBe(steps - froms);

    fs.appendFileSync(path.join(context, 'keep.log'), 'edited\n');
    const edited = ok(args);
    const lines = edited.split('\n');
    const copyStep = lines.findIndex((line) => line.includes('COPY keep.log /logs/'));
    const cachedBefore = lines.slice(0, copyStep).filter((line) => line.includes('Using cache')).length;
    expect(cachedBefore).toBe(lines.slice(0, copyStep).filter((line) => /^Step/.test(line) && !/FROM/.test(line)).length);
    expect(lines.slice(copyStep).some((line) => line.includes('Using cache'))).toBe(false);

    const uncached = ok(['build', '--no-cache', ...args.slice(1)]);
    expect(uncached).not.toMatch(/Using cache/);
  });

  it('a changed --build-arg invalidates from the RUN that uses it', () => {
    const args = ['build', '-t', 'lesson:2', '--network', 'none', '--build-arg', `BASE=${frame.image}`];
    ok([...args, context]);
    const changed = ok([...args, '--build-arg', 'GREETING=bonjour', context]);
    const runLine = changed.split('\n').findIndex((line) => line.includes('RUN sh build.sh'));
    expect(changed.split('\n')[runLine + 1]).not.toMatch(/Using cache/);
    expect(ok(['run', '--rm', '--network', 'none', 'lesson:2'])).toBe('bonjour from the build stage --help');
  });

  it('the built image pushes to a registry and pulls back into a fresh root; history has a row per instruction', () => {
    const history = ok(['history', '--no-trunc', 'lesson:1']);
    expect(history).toMatch(/#\(nop\) {2}CMD \["--help"\]/);
    expect(history).toMatch(/#\(nop\) COPY --from=build/);
    const target = frame.image.replace(/\/build\/busybox:latest$/, '/built/lesson:1');
    ok(['tag', 'lesson:1', target]);
    ok(['push', target]);
    const fresh = tempRoot();
    try {
      ok(['pull', '-q', target], fresh);
      expect(ok(['run', '--rm', '--network', 'none', target], fresh)).toBe('hello from the build stage --help');
      expectNoLeaks(fresh);
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true });
    }
  });
});

describe('ONBUILD and -q', () => {
  it('a child build runs the parent\'s ONBUILD triggers; -q prints only the image ID', () => {
    const parent = path.join(work, 'onbuild-parent');
    fs.mkdirSync(parent);
    fs.writeFileSync(path.join(parent, 'Dockerfile'), `FROM ${frame.image}\nONBUILD RUN echo triggered > /triggered\nONBUILD ENV T=1\n`);
    ok(['build', '-q', '-t', 'onbuild:1', '--network', 'none', parent]);
    const child = path.join(work, 'onbuild-child');
    fs.mkdirSync(child);
    fs.writeFileSync(path.join(child, 'Dockerfile'), 'FROM onbuild:1\nCMD ["sh", "-c", "cat /triggered; echo T=$T"]\n');
    const quiet = ok(['build', '-q', '-t', 'onbuild-child:1', '--network', 'none', child]);
    expect(quiet).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ok(['run', '--rm', '--network', 'none', 'onbuild-child:1'])).toBe('triggered\nT=1');
    const config = JSON.parse(ok(['inspect', '--type', 'image', '--format', '{{json .Config}}', 'onbuild-child:1'])) as { OnBuild?: string[] | null };
    expect(config.OnBuild ?? null).toBeNull();
  });
});

describe('build --explain', () => {
  it('says for each step whether it adds a layer or only changes the config, and when the cache serves it', () => {
    const dir = path.join(work, 'explain');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'f.txt'), 'f\n');
    fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${frame.image}\nENV A=1\nCOPY f.txt /f.txt\nRUN echo x > /x\n`);
    const first = mb(['build', '--explain', '-q', '--network', 'none', dir]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/minibox: no new layer: only the config changed/);
    expect(first.stderr).toMatch(/minibox: COPY: files from the build context/);
    expect(first.stderr).toMatch(/minibox: RUN: a container from image [0-9a-f]{12} runs \["\/bin\/sh","-c","echo x > \/x"\]/);
    expect((first.stderr.match(/minibox: new layer [0-9a-f]{12}/g) ?? []).length).toBe(2);
    const second = mb(['build', '--explain', '-q', '--network', 'none', dir]);
    expect((second.stderr.match(/minibox: cache hit:/g) ?? []).length).toBe(3);
  });
});

describe('build refuses bad input, leaving nothing behind', () => {
  function contextWith(name: string, dockerfile: string, files: Record<string, string> = {}): string {
    const dir = path.join(work, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile.replaceAll('BASE', frame.image));
    for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), content);
    return dir;
  }

  it('a syntax error names the file and line (exit 1)', () => {
    const result = mb(['build', contextWith('syntax', 'FROM BASE\nRUN true\nFORM x\n')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Dockerfile:3: unknown instruction: FORM/);
    const json = mb(['build', contextWith('json', 'FROM BASE\nCMD ["a", b]\n')]);
    expect(json.code).toBe(1);
    expect(json.stderr).toMatch(/Dockerfile:2: CMD: .* is not a valid JSON array/);
  });

  it('a failing RUN stops the build with its exit code and output; nothing is tagged or left', () => {
    const before = ok(['images', '-q', '--no-trunc']);
    const result = mb(['build', '-t', 'broken:1', '--network', 'none', contextWith('failing', 'FROM BASE\nRUN echo about to fail; exit 3\nCMD ["true"]\n')]);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/about to fail/);
    expect(result.stderr).toMatch(/The command '\/bin\/sh -c echo about to fail; exit 3' returned a non-zero code: 3/);
    expect(ok(['images', '-q', '--no-trunc'])).toBe(before);
    expect(ok(['ps', '-a', '-q'])).toBe('');
    expectNoLeaks(frame.root);
  });

  it('a missing COPY source, an unknown stage, and a path escaping the context are refused', () => {
    const missing = mb(['build', contextWith('missing', 'FROM BASE\nCOPY nothing-here /x\n')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/file not found in the build context: nothing-here/);
    const unknown = mb(['build', contextWith('unknown', 'FROM BASE\nCOPY --from=nosuchstage /x /x\n')]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/Dockerfile:2: COPY --from=nosuchstage: no build stage or image/);
    const escape = mb(['build', contextWith('escape', 'FROM BASE\nCOPY ../escape-target /x\n')]);
    expect(escape.code).toBe(1);
    expect(escape.stderr).toMatch(/outside the build context/);
    const linkDir = contextWith('symlink', 'FROM BASE\nCOPY link /x\n');
    fs.symlinkSync('/etc/shadow', path.join(linkDir, 'link'));
    // The link is resolved inside the context, as if the context were `/`: /etc/shadow of the
    // context, which does not exist — never the host's.
    const link = mb(['build', linkDir]);
    expect(link.code).toBe(1);
    expect(link.stderr).toMatch(/file not found in the build context: link/);
    expect(ok(['ps', '-a', '-q'])).toBe('');
    expectNoLeaks(frame.root);
  });
});
