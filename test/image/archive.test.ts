/**
 * `save` and `load`: images as tar files, read and written by skopeo too (docker-archive and
 * oci-archive), and refused whole when damaged or hostile.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeaks } from '../helpers/leaks.js';
import { minibox, tempRoot } from '../helpers/minibox.js';
import { pulledBusybox } from '../helpers/pulled-busybox.js';

const frame = pulledBusybox('archive/busybox');
let work: string;
const fresh: string[] = [];

function ok(root: string, args: string[]): string {
  const result = minibox(root, args);
  expect(result.code, `minibox ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout.trim();
}

function freshRoot(): string {
  const root = tempRoot();
  fresh.push(root);
  return root;
}

function skopeo(...args: string[]): string {
  return execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-archive-'));
  ok(frame.root, ['run', '--network', 'none', '--name', 'maker', frame.image, 'sh', '-c', 'echo saved > /saved && rm /etc/group']);
  ok(frame.root, ['commit', 'maker', 'app:1']);
});

afterAll(() => {
  for (const root of fresh) {
    expectNoLeaks(root);
    fs.rmSync(root, { recursive: true, force: true });
  }
  fs.rmSync(work, { recursive: true, force: true });
});

describe('save', () => {
  it('writes an archive that skopeo reads as docker-archive and as oci-archive', () => {
    const file = path.join(work, 'app.tar');
    ok(frame.root, ['save', '-o', file, 'app:1']);
    const names = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n');
    expect(names).toEqual(expect.arrayContaining(['index.json', 'manifest.json', 'oci-layout', 'repositories']));
    const id = ok(frame.root, ['inspect', '--type', 'image', '--format', '{{.Id}}', 'app:1']);

    const viaDocker = JSON.parse(skopeo('inspect', '--raw', '--config', `docker-archive:${file}`)) as { rootfs: { diff_ids: string[] } };
    const layers = JSON.parse(ok(frame.root, ['inspect', '--type', 'image', '--format', '{{json .RootFS.Layers}}', 'app:1'])) as string[];
    expect(viaDocker.rootfs.diff_ids).toEqual(layers);
    skopeo('copy', '--quiet', `docker-archive:${file}`, `oci:${path.join(work, 'from-docker')}:app`);
    skopeo('copy', '--quiet', `oci-archive:${file}`, `oci:${path.join(work, 'from-oci')}:app`);
    const config = JSON.parse(skopeo('inspect', '--config', '--raw', `oci:${path.join(work, 'from-oci')}:app`)) as { rootfs: { diff_ids: string[] } };
    expect(config.rootfs.diff_ids).toEqual(layers);
    expect(id).toMatch(/^sha256:/);
  });

  it('round trip: load into a fresh root keeps the image ID, the tag and the files', () => {
    const file = path.join(work, 'two.tar');
    ok(frame.root, ['save', '-o', file, 'app:1', frame.image]);
    const root = freshRoot();
    const loaded = ok(root, ['load', '-i', file]);
    expect(loaded).toMatch(/Loaded image: .*app:1/);
    expect(ok(root, ['inspect', '--type', 'image', '--format', '{{.Id}}', 'app:1']))
      .toBe(ok(frame.root, ['inspect', '--type', 'image', '--format', '{{.Id}}', 'app:1']));
    expect(ok(root, ['run', '--rm', '--network', 'none', 'app:1', 'sh', '-c', 'cat /saved; ls /etc/group 2>&1 || true'])).toMatch(/^saved\n.*No such file/);
  });
});

describe('load', () => {
  it('loads archives made by skopeo: docker-archive and oci-archive', () => {
    const dockerArchive = path.join(work, 'skopeo-docker.tar');
    const ociArchive = path.join(work, 'skopeo-oci.tar');
    skopeo('copy', '--quiet', '--src-tls-verify=false', `docker://${frame.image}`, `docker-archive:${dockerArchive}:made/by-skopeo:1`);
    skopeo('copy', '--quiet', '--src-tls-verify=false', `docker://${frame.image}`, `oci-archive:${ociArchive}:ignored`);
    const root = freshRoot();
    expect(ok(root, ['load', '-i', dockerArchive])).toMatch(/Loaded image: .*made\/by-skopeo:1/);
    expect(ok(root, ['run', '--rm', '--network', 'none', 'made/by-skopeo:1', 'echo', 'ran'])).toBe('ran');
    const fromOci = minibox(root, ['load', '-q', '-i', ociArchive]);
    expect(fromOci.code, fromOci.stderr).toBe(0);
  });

  it('refuses a truncated archive, a swapped layer and an entry escaping the archive — nothing recorded', () => {
    const good = path.join(work, 'app-for-refusals.tar');
    ok(frame.root, ['save', '-o', good, 'app:1']);
    const root = freshRoot();

    const truncated = path.join(work, 'truncated.tar');
    fs.writeFileSync(truncated, fs.readFileSync(good).subarray(0, 4096 + 100));
    const cut = minibox(root, ['load', '-i', truncated]);
    expect(cut.code).toBe(125);
    expect(cut.stderr.trim().split('\n')).toHaveLength(1);
    expect(cut.stderr).toMatch(/load: /);

    // Swap a layer file for another tar: its diff id no longer matches the config.
    const unpacked = path.join(work, 'unpacked');
    fs.mkdirSync(unpacked);
    execFileSync('tar', ['-xf', good, '-C', unpacked]);
    const manifest = JSON.parse(fs.readFileSync(path.join(unpacked, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
    const top = path.join(unpacked, manifest[0]!.Layers.at(-1)!);
    execFileSync('tar', ['-cf', top, '-C', work, 'app-for-refusals.tar']);
    fs.rmSync(path.join(unpacked, 'index.json'));
    const swapped = path.join(work, 'swapped.tar');
    execFileSync('tar', ['-cf', swapped, '-C', unpacked, '.']);
    const mismatch = minibox(root, ['load', '-i', swapped]);
    expect(mismatch.code).toBe(125);
    expect(mismatch.stderr).toMatch(/diff id .* but its config says/);

    const hostileDir = path.join(work, 'hostile');
    fs.mkdirSync(hostileDir);
    fs.writeFileSync(path.join(hostileDir, 'x'), 'x');
    const hostile = path.join(work, 'hostile.tar');
    execFileSync('tar', ['-cf', hostile, '-C', hostileDir, '--transform', 's,^x,../../escaped-by-load,', 'x']);
    const escaped = minibox(root, ['load', '-i', hostile]);
    expect(escaped.code).toBe(125);
    expect(escaped.stderr).toMatch(/points outside the archive/);
    expect(fs.existsSync(path.join(root, 'escaped-by-load'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'tmp/../escaped-by-load'))).toBe(false);

    expect(ok(root, ['images', '-q'])).toBe('');
    expectNoLeaks(root);
  });
});
