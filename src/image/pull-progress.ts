/**
 * pull-progress.ts — what a pull shows while it works, in Docker's words.
 *
 * Each layer moves through: Waiting → Downloading (bytes, speed) → Verifying Checksum →
 * Download complete → Extracting → Pull complete, or straight to "Already exists" when the
 * layer is in the store. On a terminal every layer gets a live progress bar (cli-progress);
 * in a log or a pipe, each change of status is one plain line; `--quiet` shows nothing.
 *
 * Try: `minibox rmi busybox $IMAGE >/dev/null; minibox pull $IMAGE | cat` → `Pull complete …
 * Status: Downloaded newer image for $IMAGE`
 */
import cliProgress from 'cli-progress';
import { shortId } from './digest.js';
import { formatBytes } from '../format.js';

export type LayerStatus =
  | 'Waiting' | 'Already exists' | 'Downloading' | 'Verifying Checksum' | 'Download complete'
  | 'Extracting' | 'Pull complete'
  // `docker push`'s words for the other direction:
  | 'Preparing' | 'Pushing' | 'Pushed' | 'Layer already exists' | `Mounted from ${string}`;

/** Statuses after which a layer's bar is full. */
function isFinished(status: LayerStatus): boolean {
  return ['Pull complete', 'Already exists', 'Download complete', 'Pushed', 'Layer already exists'].includes(status)
    || status.startsWith('Mounted from');
}

export interface PullReporter {
  /** A line about the pull as a whole ("latest: Pulling from library/alpine", "Digest: …"). */
  message(line: string): void;
  /** A layer changed status or made progress. `current`/`total` are bytes. */
  layer(digest: string, status: LayerStatus, current?: number, total?: number): void;
  /** Stop drawing (bars are finished; the cursor is left below them). */
  done(): void;
}

export function quietReporter(): PullReporter {
  return { message() {}, layer() {}, done() {} };
}

/** One line per status change (for pipes, logs and CI). */
export function plainReporter(out: NodeJS.WritableStream): PullReporter {
  const last = new Map<string, string>();
  return {
    message(line) { out.write(`${line}\n`); },
    layer(digest, status) {
      const id = shortId(digest);
      if (last.get(id) === status) return;
      last.set(id, status);
      out.write(`${id}: ${status}\n`);
    },
    done() {},
  };
}

/**
 * The text after a layer's bar, as Docker shows it: bytes so far of the layer's (compressed) size
 * while downloading or pushing — with the speed — and while extracting (bytes of the blob read).
 */
export function progressText(status: LayerStatus, current: number, total: number, seconds: number): string {
  if (total <= 0) return '';
  if (status === 'Downloading' || status === 'Pushing') return `${formatBytes(current)}/${formatBytes(total)} ${formatBytes(current / seconds)}/s`;
  if (status === 'Extracting') return `${formatBytes(current)}/${formatBytes(total)}`;
  return '';
}

/** A live bar per layer (for terminals). */
export function barReporter(out: NodeJS.WriteStream): PullReporter {
  const bars = new cliProgress.MultiBar({
    stream: out,
    format: '{id}: {status} {bar} {progress}',
    barCompleteChar: '=',
    barIncompleteChar: ' ',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    autopadding: true,
    fps: 10,
  });
  const layers = new Map<string, { bar: cliProgress.SingleBar; started: number }>();
  let stopped = false;
  return {
    // While bars are drawn, a line must go above them (log); once they stop, it is plain output.
    message(line) { if (stopped) out.write(`${line}\n`); else bars.log(`${line}\n`); },
    layer(digest, status, current = 0, total = 0) {
      const id = shortId(digest);
      let entry = layers.get(id);
      if (!entry) {
        entry = { bar: bars.create(Math.max(total, 1), 0, { id, status, progress: '' }), started: Date.now() };
        layers.set(id, entry);
      }
      const progress = progressText(status, current, total, Math.max((Date.now() - entry.started) / 1000, 0.001));
      entry.bar.setTotal(Math.max(total, 1));
      const finished = isFinished(status);
      entry.bar.update(finished ? Math.max(total, 1) : current, { status: status.padEnd(18), progress });
    },
    done() {
      bars.stop();
      stopped = true;
    },
  };
}

/** Bars on a terminal, plain lines otherwise, nothing when quiet. */
export function reporterFor(out: NodeJS.WriteStream, quiet: boolean): PullReporter {
  if (quiet) return quietReporter();
  return out.isTTY ? barReporter(out) : plainReporter(out);
}
