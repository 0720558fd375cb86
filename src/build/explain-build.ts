/**
 * explain-build.ts — `minibox build --explain`: what each step does to the image's layers and config.
 *
 * A build step either adds a layer (RUN, COPY, ADD, a WORKDIR that makes its directory) or changes
 * only the config (ENV, CMD, LABEL…), and either runs or is taken from the cache. These sentences
 * say which, and why, so the output of a build reads as the layer lesson it is.
 *
 * Try: `printf 'FROM busybox\nENV A=1\n' > Dockerfile && minibox build --explain -q -t ex . &&
 * minibox rmi ex` → `no new layer: only the config changed`
 */
import { formatBytes } from '../format.js';
import { shortId } from '../image/digest.js';
import type { LayerRecord } from '../image/store/images.js';

export function explainCacheHit(imageId: string): string {
  return `cache hit: this step ran before from the same image with the same inputs — image ${shortId(imageId)} is reused, nothing runs`;
}

export function explainResult(layer: LayerRecord | undefined): string {
  return layer
    ? `new layer ${shortId(layer.diffId)} (${formatBytes(layer.size)} compressed): the diff id names it, digest ${shortId(layer.digest)} ships it; the layers below are shared, not copied`
    : 'no new layer: only the config changed (history records the step with empty_layer)';
}

export function explainRun(imageId: string, argv: string[]): string {
  return `RUN: a container from image ${shortId(imageId)} runs ${JSON.stringify(argv)} (ENTRYPOINT ignored, build args as environment); what it writes lands in its overlay upper dir, which becomes the layer`;
}

export function explainCopy(instruction: string, from: string | undefined): string {
  return `${instruction}: files from ${from === undefined ? 'the build context (minus .dockerignore)' : `stage or image ${from}`} are laid out in a scratch dir exactly as they will appear under /, and that dir is written as the layer`;
}
