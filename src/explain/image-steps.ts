/**
 * image-steps.ts — the story of a pull: chapter 1, "the layers on disk" (pull.ts publishes the steps).
 *
 * A pull asks the registry for the manifest (an index first, when the image is multi-platform,
 * then the manifest for this platform), then the config, then each layer: a layer already
 * unpacked is reused ("Already exists"), a blob already downloaded is only unpacked, anything
 * downloaded is checked against its sha256 digest before it is kept, and each unpacked layer is
 * checked against the diff id the config lists. A file a layer deletes arrives as a `.wh.NAME`
 * whiteout in the tar and becomes an overlay whiteout (a char device 0:0) on disk — unpack's
 * mknod and lsetxattr calls are traced, and this chapter counts them.
 *
 * Try: `minibox pull --explain $IMAGE 2>&1 | grep manifest` → `manifest: 1 layer`
 */
import type { SysEvent } from '../sys/trace.js';
import type { StoryStep } from './story-line.js';

function str(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `sha256:81f571fc…` → `81f571fc1415` (Docker's short form). */
function short(digest: unknown): string {
  return str(digest).replace(/^sha256:/, '').slice(0, 12);
}

function bytes(value: unknown): string {
  const n = Number(value);
  if (!Number.isFinite(n)) return '?';
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** An overlay whiteout (mknod c 0 0) or opaque marker (trusted.overlay.opaque) written by unpack. */
export function isWhiteout(event: SysEvent): boolean {
  if (event.call === 'mknod') return event.args.kind === 'char' && event.args.major === 0 && event.args.minor === 0;
  if (event.call === 'lsetxattr') return str(event.args.name).endsWith('overlay.opaque');
  return false;
}

export function pullStoryStep(event: SysEvent): StoryStep | undefined {
  const a = event.args;
  if (isWhiteout(event)) {
    return {
      key: 'whiteouts', item: event.call,
      render: (items) => {
        const deleted = items.filter((i) => i === 'mknod').length;
        const opaque = items.length - deleted;
        return {
          words: `whiteouts: ${deleted} file${deleted === 1 ? '' : 's'} deleted by a layer${opaque ? `, ${opaque} director${opaque === 1 ? 'y' : 'ies'} replaced` : ''}`
            + ' — overlay hides what lies below them',
          call: `${deleted ? `mknod c 0 0 ×${deleted}` : ''}${deleted && opaque ? ', ' : ''}${opaque ? `setxattr opaque ×${opaque}` : ''}`,
        };
      },
    };
  }
  switch (event.call) {
    case 'pull.manifest': {
      const index = a.index ? `the index lists one per platform; ${str(a.platform)}: ` : '';
      return {
        key: 'pull.manifest', item: '',
        render: () => ({ words: `manifest: ${index}${str(a.layers)} layer${a.layers === 1 ? '' : 's'}`, call: `GET /v2/…/manifests → ${short(a.digest)}` }),
      };
    }
    case 'pull.config':
      return {
        key: 'pull.config', item: '',
        render: () => ({ words: `config ${short(a.digest)}: ${a.cached ? 'already here' : 'downloaded, sha256 checked'}`, call: a.cached ? 'blobs/' : 'GET /v2/…/blobs' }),
      };
    case 'pull.layer':
      return {
        key: `pull.layer:${str(a.digest)}`, item: '',
        render: () => ({ words: layerWords(a), call: `layer ${short(a.digest)}` }),
      };
    default: return undefined;
  }
}

function layerWords(a: Record<string, unknown>): string {
  if (a.action === 'cached') return 'already unpacked: reused, nothing downloaded ("Already exists")';
  const fetched = a.downloaded ? `${bytes(a.size)} downloaded, sha256 checked` : 'blob already here';
  // Pipelined (pull-layer.ts): the files were written while the blob arrived, into a temp dir
  // that became the layer only after both checks.
  return `${fetched}; unpacked (${bytes(a.unpackedSize)}${a.pipelined ? ', while it downloaded' : ''}), diff id checked`;
}
