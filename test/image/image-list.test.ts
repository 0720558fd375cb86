/**
 * `images` rows as Docker's CLI makes them, and pulls as Docker words them (issue 20):
 * - one image under two names with different manifests (OCI and Docker v2s2 of one config):
 *   `--digests` shows each name's own digest (on main every row showed the first name's);
 * - `images -q` prints one id per row, as Docker's does (main de-duplicated them);
 * - `images --format TEMPLATE` / `table TEMPLATE`, `image inspect --format`;
 * - "Unable to find image 'NAME:latest' locally" names the tag; a repeated pull by digest says
 *   "Image is up to date" (main: "Downloaded newer image" every time);
 * - progress while extracting shows sizes.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progressText } from '../../src/image/pull-progress.js';
import { minibox, tempRoot } from '../helpers/minibox.js';
import { busyboxImageLayout, pushLayout, startRegistry, type TestRegistry } from '../helpers/registry.js';

let registry: TestRegistry;
let root: string;
let oci: string;
let v2s2: string;

beforeAll(async () => {
  registry = await startRegistry();
  oci = `${registry.host}/one/busybox:latest`;
  v2s2 = `${registry.host}/two/busybox:v2`;
  pushLayout(busyboxImageLayout(), 'latest', oci);
  pushLayout(busyboxImageLayout(), 'latest', v2s2, ['--format', 'v2s2']);
  root = tempRoot();
  expect(minibox(root, ['pull', '-q', oci]).code).toBe(0);
  expect(minibox(root, ['pull', '-q', v2s2]).code).toBe(0);
});

afterAll(async () => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  await registry?.stop();
});

function inspect(name: string): { Id: string; RepoDigests: string[] } {
  return (JSON.parse(minibox(root, ['image', 'inspect', name]).stdout) as { Id: string; RepoDigests: string[] }[])[0]!;
}

describe('one image under two names', () => {
  it('has one id and a different manifest digest per name', () => {
    expect(inspect(oci).Id).toBe(inspect(v2s2).Id);
    expect(inspect(oci).RepoDigests).toHaveLength(2);
  });

  it('images --digests shows each name its own digest', () => {
    const digests = inspect(oci).RepoDigests;
    const digestOf = (repository: string) => digests.find((d) => d.startsWith(`${repository}@`))!.split('@')[1];
    const rows = minibox(root, ['images', '--digests']).stdout.trim().split('\n').slice(1).map((line) => line.split(/\s+/));
    expect(rows.map((row) => row.slice(0, 3)).sort()).toEqual([
      [`${registry.host}/one/busybox`, 'latest', digestOf(`${registry.host}/one/busybox`)],
      [`${registry.host}/two/busybox`, 'v2', digestOf(`${registry.host}/two/busybox`)],
    ].sort());
    expect(digestOf(`${registry.host}/one/busybox`)).not.toBe(digestOf(`${registry.host}/two/busybox`));
  });

  it('images -q prints the id once per name, as Docker does', () => {
    const ids = minibox(root, ['images', '-q']).stdout.trim().split('\n');
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(1);
  });

  it('images --format TEMPLATE and table TEMPLATE; image inspect --format', () => {
    const plain = minibox(root, ['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout.trim().split('\n').sort();
    expect(plain).toEqual([`${registry.host}/one/busybox:latest`, `${registry.host}/two/busybox:v2`]);
    const table = minibox(root, ['images', '--format', 'table {{.Tag}}\\t{{.ID}}']).stdout.trim().split('\n');
    expect(table[0]).toMatch(/^TAG {6}IMAGE ID$/);
    expect(table.slice(1).sort()[0]).toMatch(/^latest {3}[0-9a-f]{12}$/);
    expect(minibox(root, ['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}} {{len .RepoTags}}', oci]).stdout).toBe('linux/amd64 2\n');
    const unknown = minibox(root, ['image', 'inspect', '--format', '{{.Nope}}', oci]);
    expect(unknown).toMatchObject({ code: 1, stderr: 'minibox: template: :1:3: executing "" at <.Nope>: map has no entry for key "Nope"\n' });
  });
});

describe('pull messages', () => {
  it('a repeated pull by digest says the image is up to date', () => {
    const byDigest = inspect(oci).RepoDigests.find((d) => d.includes('/one/'))!;
    const again = minibox(root, ['pull', byDigest]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Status: Image is up to date for ${byDigest}`);
    expect(again.stdout).not.toContain('Downloaded newer image');
  });

  it('run of a missing image names its tag: Unable to find image \'NAME:latest\' locally', () => {
    const fresh = tempRoot();
    try {
      const name = `${registry.host}/one/busybox`;
      const result = minibox(fresh, ['run', '--rm', '--network', 'none', name, 'true']);
      expect(result.code).toBe(0);
      expect(result.stderr.split('\n')[0]).toBe(`Unable to find image '${name}:latest' locally`);
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('progress shows sizes while downloading and while extracting', () => {
    expect(progressText('Downloading', 1_000_000, 3_000_000, 2)).toBe('1MB/3MB 500kB/s');
    expect(progressText('Extracting', 1_500_000, 3_000_000, 2)).toBe('1.5MB/3MB');
    expect(progressText('Pull complete', 3_000_000, 3_000_000, 2)).toBe('');
  });
});
