/**
 * Making images from containers: `commit` (the upper dir → one more layer), `export` (the merged
 * tree → a tar) and `import` (a tar → a one-layer image) — checked against the container's own
 * view of its files, against umoci unpacking the same blobs, and for determinism.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lsetxattr } from '../../src/sys/index.js';
import { MNT, MS, mount, umount } from '../../src/sys/mount.js';
import { expectNoLeaks } from '../helpers/leaks.js';
import { bin, minibox } from '../helpers/minibox.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';
import { snapshotTree, type TreeSnapshot } from '../helpers/tree-snapshot.js';

const frame = pulledBusybox('commit/busybox');
let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-commit-'));
});
afterAll(() => {
  for (const name of fs.readdirSync(work)) {
    const dir = path.join(work, name);
    try { umount(dir, MNT.DETACH); } catch { /* not mounted */ }
  }
  fs.rmSync(work, { recursive: true, force: true });
});

function mb(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  return minibox(frame.root, args, input === undefined ? {} : { input });
}

function ok(args: string[]): string {
  const result = mb(args);
  expect(result.code, `minibox ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout.trim();
}

function containerDir(name: string): string {
  const id = ok(['inspect', '--format', '{{.Id}}', name]);
  return path.join(frame.root, 'containers', id);
}

/** The tree the container itself sees (minus mounts): its upper dir over the image's layers, read-only. */
function containerView(name: string, target: string): TreeSnapshot {
  const spec = JSON.parse(fs.readFileSync(path.join(containerDir(name), 'config.json'), 'utf8')) as { annotations: Record<string, string> };
  const lower = Object.entries(spec.annotations).find(([key]) => key.endsWith('lowerdir'))![1];
  fs.mkdirSync(target);
  mount({ source: 'overlay', target, fstype: 'overlay', flags: MS.RDONLY, data: `lowerdir=${path.join(containerDir(name), 'upper')}:${lower}` });
  try {
    return snapshotTree(target, { mtimes: 'none' });
  } finally {
    umount(target, MNT.DETACH);
  }
}

function imageView(image: string): TreeSnapshot {
  const dir = ok(['image', 'mount', image]);
  try {
    return snapshotTree(dir, { mtimes: 'none' });
  } finally {
    ok(['image', 'unmount', image]);
  }
}

/** What the runtime put there for its own bind mounts, not the container's doing. */
function withoutMountPoints(tree: TreeSnapshot): TreeSnapshot {
  const nodes = { ...tree.nodes };
  for (const file of ['etc/hostname', 'etc/hosts', 'etc/resolv.conf']) {
    if (nodes[file]?.type === 'file' && nodes[file]?.size === 0) delete nodes[file];
  }
  return { ...tree, nodes };
}

const CHANGES = [
  'echo added > /added',
  'mkdir -p /newdir/sub && echo deep > /newdir/sub/f',
  'echo more >> /etc/passwd',
  'rm /etc/group',
  'rm -rf /var/www && mkdir /var/www && echo fresh > /var/www/index.html', // opaque dir
  'echo linked > /hard-a && ln /hard-a /hard-b',
  'cp /bin/busybox /suid && chmod 4755 /suid',
  'ln -s /added /symlink',
  'mkfifo /fifo',
  'chown 1000:1000 /added',
].join(' && ');

describe('commit', () => {
  it('turns the upper dir into a layer: the new image shows exactly the container\'s files', () => {
    ok(['run', '--network', 'none', '--name', 'changer', frame.image, 'sh', '-c', CHANGES]);
    // A program in the container could have set an xattr (busybox has no setfattr): set one as it would.
    lsetxattr(path.join(containerDir('changer'), 'upper/added'), 'user.note', Buffer.from([0x80, 0x00, 0x41]));

    const id = ok(['commit', '-m', 'all kinds of change', '-a', 'Tester <t@example.com>', 'changer', 'committed:1']);
    expect(id, JSON.stringify(mb(['images']))).toMatch(/^sha256:[0-9a-f]{64}$/);

    const expected = withoutMountPoints(containerView('changer', path.join(work, 'view')));
    const actual = imageView('committed:1');
    expect(actual).toEqual(expected);
    expect(actual.nodes['suid']?.mode).toBe('4755');
    expect(actual.nodes['etc/group']).toBeUndefined();
    expect(actual.nodes['var/www/index.html']).toBeDefined();
    expect(Object.keys(actual.nodes).filter((p) => p.startsWith('var/www/'))).toEqual(['var/www/index.html']);
    expect(actual.hardlinkGroups).toContainEqual(['hard-a', 'hard-b']);
    expect(actual.nodes['added']?.xattrs).toEqual({ 'user.note': '800041' });

    // Deleted files stay deleted for a container of the new image, and the layers below are shared.
    expect(ok(['run', '--rm', '--network', 'none', 'committed:1', 'sh', '-c', 'ls /etc/group 2>&1; cat /added'])).toMatch(/No such file[\s\S]*added/);
    const parentLayers = JSON.parse(ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', frame.image])) as string[];
    const layers = JSON.parse(ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', 'committed:1'])) as string[];
    expect(layers.slice(0, -1)).toEqual(parentLayers);
    expect(layers).toHaveLength(parentLayers.length + 1);

    const history = ok(['history', '--no-trunc', 'committed:1']);
    expect(history.split('\n')[1]).toMatch(/all kinds of change/);
  });

  it('is deterministic: the same upper dir gives the same layer digest and diff id twice', () => {
    const first = ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', ok(['commit', 'changer'])]);
    const second = ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', ok(['commit', 'changer'])]);
    expect(second).toBe(first);
    const index = JSON.parse(fs.readFileSync(path.join(frame.root, 'images/index.json'), 'utf8')) as { images: Record<string, { layers: { digest: string }[] }> };
    const tops = Object.values(index.images).map((image) => image.layers.at(-1)!.digest);
    expect(tops.filter((digest) => digest === tops.at(-1)).length).toBeGreaterThanOrEqual(3); // committed:1 and the two above
  });

  it('--compression zstd writes a zstd layer with the same diff id', () => {
    const gzipLayers = ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', 'committed:1']);
    ok(['commit', '--compression', 'zstd', 'changer', 'committed:zstd']);
    expect(ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', 'committed:zstd'])).toBe(gzipLayers);
    const index = JSON.parse(fs.readFileSync(path.join(frame.root, 'images/index.json'), 'utf8')) as { images: Record<string, { layers: { mediaType: string }[] }>; tags: Record<string, string> };
    const image = index.images[Object.entries(index.tags).find(([tag]) => tag.endsWith('committed:zstd'))![1]]!;
    expect(image.layers.at(-1)!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    expect(imageView('committed:zstd')).toEqual(imageView('committed:1'));
  });

  it('umoci unpacks the committed image\'s blobs to the same tree', () => {
    const index = JSON.parse(fs.readFileSync(path.join(frame.root, 'images/index.json'), 'utf8')) as { images: Record<string, { manifestDigest: string }>; tags: Record<string, string> };
    const image = index.images[Object.entries(index.tags).find(([tag]) => tag.endsWith('committed:1'))![1]]!;
    const layout = path.join(work, 'layout');
    fs.mkdirSync(path.join(layout, 'blobs'), { recursive: true });
    fs.symlinkSync(path.join(frame.root, 'blobs/sha256'), path.join(layout, 'blobs/sha256'));
    fs.writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const manifest = fs.readFileSync(path.join(frame.root, 'blobs/sha256', image.manifestDigest.slice(7)));
    fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'c' } }],
    }));
    const bundle = path.join(work, 'bundle');
    execFileSync('umoci', ['unpack', '--image', `${layout}:c`, bundle], { stdio: ['ignore', 'ignore', 'pipe'] });
    const umoci = snapshotTree(path.join(bundle, 'rootfs'), { mtimes: 'none' });
    const ours = imageView('committed:1');
    // umoci's root dir mode comes from its own bundle; compare everything below it.
    delete umoci.nodes['.'];
    delete ours.nodes['.'];
    expect(umoci).toEqual(ours);
  });

  it('commits a running container without stopping it', () => {
    ok(['run', '-d', '--network', 'none', '--name', 'live', frame.image, 'sh', '-c', 'echo during > /during; exec sleep 600']);
    for (let i = 0; i < 100 && mb(['exec', 'live', 'cat', '/during']).stdout.trim() !== 'during'; i++) { /* until written */ }
    ok(['commit', 'live', 'live-snapshot:1']);
    expect(ok(['inspect', '--format', '{{.State.Running}}', 'live'])).toBe('true');
    expect(ok(['run', '--rm', '--network', 'none', 'live-snapshot:1', 'cat', '/during'])).toBe('during');
    ok(['rm', '-f', 'live']);
  });

  it('applies --change instructions and records an empty change as history only', () => {
    ok(['run', '--network', 'none', '--name', 'unchanged', frame.image, 'true']);
    const id = ok(['commit', '-c', 'ENV GREETING=hello', '-c', 'CMD ["sh", "-c", "echo $GREETING"]', '-c', 'EXPOSE 8080', '-c', 'LABEL a=b', 'unchanged', 'changed-config']);
    expect(ok(['run', '--rm', '--network', 'none', 'changed-config'])).toBe('hello');
    const config = JSON.parse(ok(['inspect', '--type', 'image', '--format', '{{json .Config}}', id])) as { ExposedPorts: object; Labels: object };
    expect(config.ExposedPorts).toEqual({ '8080/tcp': {} });
    expect(config.Labels).toEqual({ a: 'b' });
    const parentLayers = JSON.parse(ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', frame.image])) as string[];
    expect(JSON.parse(ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', id]))).toEqual(parentLayers);
  });

  it('refuses bad input with one line: a missing container, an unknown instruction, a digest as the name', () => {
    const missing = mb(['commit', 'no-such-container', 'x']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/No such container: no-such-container/);
    const unknown = mb(['commit', '-c', 'RUN rm -rf /', 'changer', 'x']);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toMatch(/RUN is not one of CMD, ENTRYPOINT/);
    const digest = mb(['commit', 'changer', `x@sha256:${'a'.repeat(64)}`]);
    expect(digest.code).toBe(125);
    expectNoLeaks(frame.root);
  });
});

describe('export and import', () => {
  it('export writes the merged tree; import makes it a one-layer image with the same files', () => {
    const tarFile = path.join(work, 'changer.tar');
    ok(['export', '-o', tarFile, 'changer']);
    const names = execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).split('\n');
    expect(names).toContain('added');
    expect(names).not.toContain('etc/group');
    expect(names.some((name) => name.includes('.wh.'))).toBe(false);

    const id = ok(['import', '-m', 'from a tar', tarFile, 'flat:1']);
    expect(JSON.parse(ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', id]))).toHaveLength(1);
    expect(imageView('flat:1')).toEqual(withoutMountPoints(containerView('changer', path.join(work, 'view2'))));
    expect(ok(['run', '--rm', '--network', 'none', 'flat:1', 'cat', '/var/www/index.html'])).toBe('fresh');

    // The same bytes on stdin, gzip-compressed: the same diff id.
    const gz = execFileSync('gzip', ['-c', tarFile], { maxBuffer: 1 << 28 });
    const again = spawnSync(process.execPath, [bin, '--root', frame.root, 'import', '-', 'flat:2'], { input: gz, encoding: 'utf8' });
    expect(again.status, again.stderr).toBe(0);
    expect(ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', 'flat:2']))
      .toBe(ok(['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', 'flat:1']));
  });

  it('refuses a truncated tar and a hostile one, recording nothing and leaving nothing', () => {
    const before = ok(['images', '-q', '--no-trunc']);
    const truncated = path.join(work, 'truncated.tar.gz');
    fs.writeFileSync(truncated, execFileSync('gzip', ['-c', path.join(work, 'changer.tar')], { maxBuffer: 1 << 28 }).subarray(0, 5000));
    const bad = mb(['import', truncated, 'broken:1']);
    expect(bad.code).toBe(125);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);

    const hostile = path.join(work, 'hostile');
    fs.mkdirSync(path.join(hostile, 'a'), { recursive: true });
    fs.writeFileSync(path.join(hostile, 'a/x'), 'x');
    const hostileTar = path.join(work, 'hostile.tar');
    execFileSync('tar', ['-cf', hostileTar, '-C', hostile, '--transform', 's,^a/x,../../escaped,', 'a/x']);
    const refused = mb(['import', hostileTar, 'hostile:1']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/escaped|outside|\.\./);
    expect(ok(['images', '-q', '--no-trunc'])).toBe(before);
    expect(fs.existsSync(path.join(frame.root, '../escaped'))).toBe(false);
    expectNoLeaks(frame.root);
  });

  it('names a missing file', () => {
    const missing = mb(['import', path.join(work, 'nope.tar')]);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/no such file/);
  });
});
