/**
 * state-root.ts — where minibox keeps its state on disk, and the layout under it.
 *
 *   /var/lib/minibox/                 (or --root DIR, or $MINIBOX_ROOT)
 *     blobs/sha256/<hex>              content-addressed blobs: manifests, configs, compressed layers
 *     layers/sha256/<diff-id hex>/    each layer unpacked into its own directory (an overlay lower dir)
 *     images/index.json               image records: repository:tag → manifest, config, layers
 *     mounts/<image id>/              `minibox image mount` targets
 *     containers/<id>/                one directory per container (bundle, state, upper dir)
 *     volumes/<name>/                 named volumes
 *     networks/<name>/                network config, IPAM ledger, one endpoint file per attached container
 *     tmp/                            downloads and unpacks in progress (never visible elsewhere)
 *     locks/                          lock files that serialise concurrent minibox processes
 *
 * Everything that appears under `blobs/` or `layers/` was first written under `tmp/` and then
 * renamed into place, so a crash never leaves a half-written blob or layer where it can be used.
 *
 * Try: `minibox images >/dev/null && ls $MINIBOX_ROOT` → `blobs … containers … images … layers …
 * locks`
 */
import fs from 'node:fs';
import path from 'node:path';

export const DEFAULT_ROOT = '/var/lib/minibox';

/** The state root: explicit option, then $MINIBOX_ROOT, then /var/lib/minibox. */
export function resolveStateRoot(explicit?: string): string {
  return path.resolve(explicit ?? process.env.MINIBOX_ROOT ?? DEFAULT_ROOT);
}

export class StateRoot {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  get blobs(): string { return path.join(this.dir, 'blobs'); }
  get layers(): string { return path.join(this.dir, 'layers'); }
  get images(): string { return path.join(this.dir, 'images'); }
  get mounts(): string { return path.join(this.dir, 'mounts'); }
  get containers(): string { return path.join(this.dir, 'containers'); }
  get volumes(): string { return path.join(this.dir, 'volumes'); }
  get networks(): string { return path.join(this.dir, 'networks'); }
  get tmp(): string { return path.join(this.dir, 'tmp'); }
  get locks(): string { return path.join(this.dir, 'locks'); }

  /**
   * Creates the root (0711: others may pass through, not list) and the directories that hold
   * image and container files (0700). Image layers can carry setuid-root programs and device
   * nodes: no other user of the host may reach them through the state root.
   */
  prepare(): this {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o711 });
    for (const dir of [this.blobs, this.layers, this.images, this.mounts, this.containers, this.volumes, this.tmp, this.locks]) {
      fs.mkdirSync(dir, { mode: 0o700, recursive: true });
    }
    return this;
  }
}
