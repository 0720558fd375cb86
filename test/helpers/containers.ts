/**
 * Helpers for runtime tests: run a busybox command in a fresh bundle and check that nothing
 * (mounts, processes) was left behind.
 */
import { expect } from 'vitest';
import { makeBundle, hostMountsMentioning, type TestBundle } from './bundle.js';
import { runContainer, type RunOptions, type RunResult } from '../../src/runtime/index.js';
import type { RuntimeSpec } from '../../src/bundle/oci-bundle.js';

export interface ContainerRun extends RunResult {
  bundle: TestBundle;
  pid: number | undefined;
}

/** Runs `sh -c script` (or `args`) in a new bundle with piped stdio; the bundle is removed after. */
export async function runInBusybox(
  command: string | string[],
  options: RunOptions & { change?: (spec: RuntimeSpec, bundle: { dir: string; upper: string }) => void; keep?: boolean } = {},
): Promise<ContainerRun> {
  const args = typeof command === 'string' ? ['sh', '-c', command] : command;
  let bundle: TestBundle | undefined;
  bundle = makeBundle(args);
  options.change?.(bundle.spec, bundle);
  bundle.write();
  let pid: number | undefined;
  try {
    const result = await runContainer(bundle.dir, {
      stdio: 'pipe', ...options,
      onStarted: (p) => { pid = p; options.onStarted?.(p); },
    });
    return { ...result, bundle, pid };
  } finally {
    expectNothingLeft(bundle.dir, pid);
    if (!options.keep) bundle.remove();
  }
}

/** No mount on the host mentions the bundle, and the container's PID 1 is gone. */
export function expectNothingLeft(bundleDir: string, pid: number | undefined): void {
  expect(hostMountsMentioning(bundleDir)).toEqual([]);
  if (pid !== undefined) expect(() => process.kill(pid, 0)).toThrow();
}
