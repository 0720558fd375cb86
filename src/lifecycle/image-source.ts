/**
 * image-source.ts — the image a container is made from: found in the store, or pulled first.
 *
 * `minibox run alpine` looks for `alpine` locally and pulls it when missing (`--pull missing`,
 * Docker's default); `--pull always` asks the registry every time (cheap when nothing changed:
 * only the manifest is fetched); `--pull never` fails instead of reaching the network.
 * What the engine needs from an image is small: its id, its run config (Entrypoint, Cmd, Env…)
 * and its layer directories, topmost first — the order overlayfs' `lowerdir=` wants.
 *
 * Try: `minibox run --rm --pull never nosuch/image true` → `No such image: nosuch/image (and --pull
 * never forbids pulling it)`
 */
import { NotFoundError, UsageError } from '../errors.js';
import type { ContainerConfig } from '../image/oci.js';
import { foreignPlatformWarning } from '../image/platform.js';
import { parseReference } from '../image/reference.js';
import { ImageStore, type ImageRecord } from '../image/store/images.js';
import type { StateRoot } from '../state-root.js';

export interface RunnableImage {
  /** The image as the user typed it. */
  reference: string;
  /** Config digest, `sha256:…`. */
  id: string;
  config: ContainerConfig;
  layerDirsTopFirst: string[];
}

export type PullPolicy = 'missing' | 'always' | 'never';

export function parsePullPolicy(value: string | undefined): PullPolicy {
  const policy = value ?? 'missing';
  if (policy !== 'missing' && policy !== 'always' && policy !== 'never') {
    throw new UsageError(`invalid pull option: '${policy}': must be one of "always", "missing" or "never"`);
  }
  return policy;
}

export interface ImageSourceOptions {
  pull?: PullPolicy;
  quiet?: boolean;
  /** Where "Unable to find image" and the pull's progress go (default: stderr; the API's build stream). */
  progress?: NodeJS.WritableStream;
  platform?: string;
  insecureRegistries?: string[];
  registryMirrors?: string[];
}

/** Turns an image record into what the engine runs. */
export function runnableImage(root: StateRoot, reference: string, record: ImageRecord): RunnableImage {
  const store = new ImageStore(root);
  const layers = record.layers.map((layer) => store.layers.dir(layer.diffId)).reverse();
  return {
    reference,
    id: record.id,
    config: store.config(record).config ?? {},
    layerDirsTopFirst: layers.length > 0 ? layers : [store.layers.emptyDir()],
  };
}

export async function findImageForRun(root: StateRoot, reference: string, options: ImageSourceOptions = {}): Promise<RunnableImage> {
  const store = new ImageStore(root);
  const policy = options.pull ?? 'missing';
  let record = policy === 'always' ? undefined : store.resolve(reference);
  if (!record) {
    parseReference(reference); // a malformed name is a usage error before any network traffic
    if (policy === 'never') throw new NotFoundError(`No such image: ${reference} (and --pull never forbids pulling it)`);
    const progress = options.progress ?? process.stderr;
    if (policy === 'missing' && !options.quiet) progress.write(`Unable to find image '${parseReference(reference).familiar}' locally\n`);
    // Loaded only when a pull happens: the registry client and unpacker are most of the CLI's start-up.
    const [{ pullImage }, { plainReporter, quietReporter, reporterFor }] = await Promise.all([import('../image/pull.js'), import('../image/pull-progress.js')]);
    const reporter = options.progress ? (options.quiet ? quietReporter() : plainReporter(options.progress)) : reporterFor(process.stderr, options.quiet ?? false);
    const pulled = await pullImage(root, reference, {
      reporter,
      ...(options.platform ? { platform: options.platform } : {}),
      insecureRegistries: options.insecureRegistries ?? [],
      registryMirrors: options.registryMirrors ?? [],
    });
    record = pulled.image;
  }
  const config = store.config(record);
  if (!options.platform && config.architecture) {
    const warning = foreignPlatformWarning({ os: config.os || 'linux', architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) });
    if (warning) process.stderr.write(`${warning}\n`);
  }
  return runnableImage(root, reference, record);
}
