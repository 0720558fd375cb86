/**
 * build-container.ts — RUN: a container from the image so far, whose writes become the next layer.
 *
 * Docker's classic builder runs each RUN in a throwaway container: the image so far is its root
 * (read-only lower layers), the command runs under the stage's SHELL with the image's Env, User
 * and WorkingDir and the build args as environment (ENTRYPOINT is ignored), and whatever it
 * writes lands in the container's overlay upper dir. When it exits 0, that upper dir is the
 * layer (lifecycle/commit.ts turns it into a tar, whiteouts and all); any other exit code stops
 * the build with that code. The container is removed either way, as `Removing intermediate
 * container …` says.
 *
 * Try: `printf 'FROM busybox\nRUN echo made-by-run > /f\n' > Dockerfile && minibox build -t rb . &&
 * minibox run --rm rb cat /f && minibox rmi rb >/dev/null` → `Removing intermediate container …
 * made-by-run`
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { MiniboxError } from '../errors.js';
import { STORE_LOCK, withLock } from '../lock.js';
import type { StateRoot } from '../state-root.js';
import type { LayerRecord } from '../image/store/images.js';
import { ContainerStore } from '../container/container-store.js';
import { containerChangesLayer } from '../lifecycle/commit.js';
import { removeContainer } from '../lifecycle/create.js';
import { runContainerFromImage } from '../lifecycle/run.js';
import { killContainer } from '../lifecycle/stop.js';
import { startInitStageEarly } from '../runtime/run-bundle.js';

export interface BuildContainerRequest {
  /** The image so far. */
  imageId: string;
  argv: string[];
  /** The build args, `NAME=value`. */
  env: string[];
  network?: string;
  /** `build -q`: the command's output goes nowhere. */
  quiet: boolean;
  /** Where the command's output goes (the API's build stream); minibox's own stdout/stderr otherwise. */
  output?: BuildOutput;
  /** When aborted, the command is killed (and the build then stops with the signal's reason). */
  signal?: AbortSignal;
}

/** Where a build's RUN output and base-image pull progress go, when not minibox's own stdout/stderr. */
export interface BuildOutput {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** A RUN whose command exited non-zero: the build stops with that code (Docker's words). */
export class RunStepError extends MiniboxError {
  constructor(argv: string[], readonly code: number) {
    super(`The command '${argv.join(' ')}' returned a non-zero code: ${code}`, code);
    this.name = 'RunStepError';
  }
}

/**
 * Once `signal` is aborted, SIGKILLs the build container `name` — again every 100 ms, since it may
 * not be running yet — until the returned function is called (the run has returned).
 */
function killWhenAborted(root: StateRoot, name: string, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const kill = (): void => {
    const record = new ContainerStore(root).findByName(name);
    if (record?.State.Running) killContainer(root, record.Id).catch(() => undefined); // it may have just exited
    timer = setTimeout(kill, 100);
  };
  signal.addEventListener('abort', kill, { once: true });
  return () => {
    signal.removeEventListener('abort', kill);
    clearTimeout(timer);
  };
}

/**
 * Runs `argv` in a build container and returns the layer its writes make (undefined if it wrote
 * nothing); `removed(id)` is told when the container is gone.
 */
export async function runBuildContainer(root: StateRoot, request: BuildContainerRequest, removed: (id: string) => void): Promise<LayerRecord | undefined> {
  const name = `minibox-build-${randomBytes(6).toString('hex')}`;
  const containers = new ContainerStore(root);
  const stopKilling = killWhenAborted(root, name, request.signal);
  try {
    const exitCode = await runContainerFromImage(root, {
      image: request.imageId, command: request.argv, entrypoint: '', env: request.env, name, pull: 'never', quiet: true,
      ...(request.network ? { network: request.network } : {}),
    }, startInitStageEarly({
      newPidNamespace: true, terminal: false, stdio: request.quiet ? 'ignore' : 'relay-output',
      ...(request.output ? { streams: { input: Readable.from([]), ...request.output } } : {}),
    }));
    request.signal?.throwIfAborted();
    if (exitCode !== 0) throw new RunStepError(request.argv, exitCode);
    const record = containers.findByName(name)!;
    return await withLock(root.locks, STORE_LOCK, async () => await containerChangesLayer(root, record), 'shared');
  } finally {
    stopKilling();
    const record = containers.findByName(name);
    if (record) {
      await removeContainer(root, record.Id);
      removed(record.Id);
    }
  }
}
