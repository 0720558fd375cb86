/**
 * pull-benchmarks.ts — how long `minibox pull` takes, cold (nothing cached) and warm (all cached).
 *
 * Cold: a ~50 MB image of three layers (busybox + two layers of mixed files) comes from a local
 * registry into an empty state root: manifest and config fetched, each layer downloaded, checked
 * against its digest, decompressed and written as files. The reference does the same work with
 * two well-known tools: `skopeo copy` (download into an OCI layout) then `umoci unpack` (layers
 * into one bundle rootfs). Differences worth knowing when reading the ratio: minibox unpacks each
 * layer into its own directory (overlay lower dirs) and can overlap download with unpacking;
 * umoci applies the layers one over another into a single rootfs and writes an mtree manifest.
 *
 * Warm: the same pull again, every blob and layer already in the store: one manifest request and
 * a few file reads. Its floor is Node's own start-up, hence the reference `node -e 0`.
 *
 * The floor: `curl | tar -xz` of each layer blob (no manifest, no checks, no store).
 *
 * Try: `time minibox --root /tmp/r pull 127.0.0.1:PORT/bench/three-layers:bench` twice.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Benchmark } from './benchmark.js';
import { measureInTurns, type CommandSpec } from './measure.js';
import type { BenchWorkspace } from './workspace.js';

/** Each content layer's uncompressed size (MiB): two of them plus busybox gzip to ~50 MB. */
export const IMAGE_LAYER_MIB = 36;

/** A prepare step: delete these directories and flush the previous run's writes to disk. */
export function resetDirectories(...dirs: string[]): () => void {
  return () => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    execFileSync('sync');
  };
}

/** A state root that already holds the image (for warm pulls and `run`). */
export function pulledRoot(workspace: BenchWorkspace, reference: string): string {
  const root = workspace.tempDir('warm-root');
  execFileSync(workspace.minibox, ['--root', root, 'pull', '-q', reference], { stdio: ['ignore', 'ignore', 'inherit'] });
  return root;
}

/** The layer digests of the image in an OCI layout (index → manifest → layers). */
function layerDigests(layout: string): string[] {
  const blob = (digest: string): unknown => JSON.parse(fs.readFileSync(path.join(layout, 'blobs', ...digest.split(':')), 'utf8'));
  const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = blob(index.manifests[0]!.digest) as { layers: { digest: string }[] };
  return manifest.layers.map((layer) => layer.digest);
}

/**
 * The floor of a pull: each layer blob fetched with curl and piped into `tar -xz`, one after the
 * other, each into its own directory — no manifest, no digest check, no store. (Issue #17's
 * "curl | tar".)
 */
function curlTarFloor(reference: string, digests: string[], dir: string): CommandSpec {
  const [host, ...rest] = reference.split('/');
  const repository = rest.join('/').replace(/:[^:]*$/, '');
  const script = 'set -e; base=$1; dir=$2; shift 2; for d in "$@"; do mkdir -p "$dir/$d"; '
    + 'curl -sf "$base/$d" | tar -xzf - -C "$dir/$d"; done';
  return {
    label: 'curl | tar -xz (floor)', command: 'sh',
    args: ['-c', script, 'sh', `http://${host}/v2/${repository}/blobs`, dir, ...digests],
    prepare: resetDirectories(dir),
  };
}

export const coldPull: Benchmark = {
  id: 'cold-pull',
  title: 'cold pull + unpack of a 3-layer image: minibox vs skopeo copy + umoci unpack',
  async run(workspace) {
    const { reference, image } = await workspace.pushedThreeLayerImage(IMAGE_LAYER_MIB);
    const root = path.join(workspace.dir, 'cold-root');
    const layout = path.join(workspace.dir, 'cold-oci');
    const bundle = path.join(workspace.dir, 'cold-bundle');
    const floorDir = path.join(workspace.dir, 'cold-curl-tar');
    const [minibox, skopeoUmoci, curlTar] = await measureInTurns([
      {
        label: 'minibox pull -q',
        command: workspace.minibox,
        args: ['--root', root, 'pull', '-q', reference],
        prepare: resetDirectories(root),
        measureRss: true,
      },
      {
        label: 'skopeo copy + umoci unpack',
        command: 'sh',
        args: ['-c', 'skopeo copy -q --src-tls-verify=false "docker://$1" "oci:$2:bench" && umoci unpack --image "$2:bench" "$3" >/dev/null',
          'sh', reference, layout, bundle],
        prepare: resetDirectories(layout, bundle),
      },
      curlTarFloor(reference, layerDigests(image.layout), floorDir),
    ], { runs: workspace.options.runs });
    resetDirectories(root, layout, bundle, floorDir)();
    const megabytes = (image.compressedBytes / 1e6).toFixed(0);
    return [
      { name: `cold pull, 3 layers, ${megabytes} MB`, minibox: minibox, reference: skopeoUmoci, goal: '< 1× (faster)' },
      { name: `cold pull, 3 layers, ${megabytes} MB`, minibox: minibox, reference: curlTar, goal: '≤ 1.2× the floor' },
    ];
  },
};

export const warmPull: Benchmark = {
  id: 'warm-pull',
  title: 'warm re-pull (all cached) vs node -e 0',
  async run(workspace) {
    const { reference } = await workspace.pushedThreeLayerImage(IMAGE_LAYER_MIB);
    const root = pulledRoot(workspace, reference);
    const [minibox, node] = await measureInTurns([
      { label: 'minibox pull -q (cached)', command: workspace.minibox, args: ['--root', root, 'pull', '-q', reference], measureRss: true },
      { label: 'node -e 0', command: process.execPath, args: ['-e', '0'] },
    ], { runs: workspace.options.runs * 3, warmup: 1 });
    return [{ name: 'warm re-pull (all cached)', minibox: minibox, reference: node, goal: 'close to Node start-up' }];
  },
};
