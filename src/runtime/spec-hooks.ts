/**
 * spec-hooks.ts — config.json's `hooks`: programs the runtime runs at fixed points of a
 * container's life (runtime-spec config.md "POSIX-platform Hooks").
 *
 * Each hook is `{path, args?, env?, timeout?}`; the runtime runs it with the container's state
 * (oci-state.ts) as JSON on its stdin, and kills it after `timeout` seconds. The points:
 *   prestart, createRuntime  during `create`, once the namespaces exist, before pivot_root — in
 *                            the runtime's namespaces (what network plugins use): src/oci/create.ts
 *   createContainer          during `create`, in the container's namespaces, after its mounts,
 *                            before pivot_root — run by the init stage itself
 *   startContainer           after `start`, in the container (after pivot_root), just before
 *                            the program — the init stage again
 *   poststart                after `start` has let the program run
 *   poststop                 during `delete`, after the container is gone
 * A failing hook before the program fails the container (create fails; after `start`, the init
 * stage exits 125 before the program runs); a failing poststart or poststop hook is a warning and
 * the rest go on, as the spec says.
 *
 * Try: `cp -a $BUNDLE b && jq '.hooks.poststart=[{"path":"/bin/sh","args":["sh","-c","cat > hook.json"]}]'
 * $BUNDLE/config.json > b/config.json && minibox-runc run -d --bundle b c1 >/dev/null 2>&1; cat hook.json`
 * → `"status":"running"` (the state a hook reads on its stdin).
 */
import { spawnSync } from 'node:child_process';
import { MiniboxError, ExitCode } from '../errors.js';
import type { HookPoint, SpecHook, SpecHooks } from '../bundle/oci-bundle.js';

export type { HookPoint, SpecHook, SpecHooks };

/** runtime.md "State": what every hook reads on its stdin. */
export interface HookState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped';
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** Runs one hook; throws a one-line error naming it and its stderr when it fails. */
export function runHook(point: HookPoint, hook: SpecHook, state: HookState): void {
  const [argv0, ...args] = hook.args?.length ? hook.args : [hook.path];
  const env = Object.fromEntries((hook.env ?? []).map((entry) => {
    const equals = entry.indexOf('=');
    return equals < 0 ? [entry, ''] : [entry.slice(0, equals), entry.slice(equals + 1)];
  }));
  const result = spawnSync(hook.path, args, {
    argv0: argv0 ?? hook.path,
    env,
    input: JSON.stringify(state),
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(hook.timeout !== undefined ? { timeout: hook.timeout * 1000, killSignal: 'SIGKILL' as const } : {}),
  });
  const what = `${point} hook ${hook.path}`;
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    throw new MiniboxError(`${what} timed out after ${hook.timeout} s`, ExitCode.VerbFailed);
  }
  // EPIPE: the hook exited without reading its stdin — its right; its exit status decides.
  if (result.error && (result.error as NodeJS.ErrnoException).code !== 'EPIPE') throw new MiniboxError(`${what}: ${result.error.message}`, ExitCode.VerbFailed);
  if (result.status !== 0) {
    const said = result.stderr.toString().trim().split('\n')[0];
    const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
    throw new MiniboxError(`${what} ${how}${said ? `: ${said}` : ''}`, ExitCode.VerbFailed);
  }
}

/** Runs a point's hooks in order; the first failure stops them and is thrown. */
export function runHooks(hooks: SpecHooks | undefined, point: HookPoint, state: HookState): void {
  for (const hook of hooks?.[point] ?? []) runHook(point, hook, state);
}

/** poststart/poststop: a failure is a warning on stderr, and the next hook still runs. */
export function runHooksWarning(hooks: SpecHooks | undefined, point: HookPoint, state: HookState): void {
  for (const hook of hooks?.[point] ?? []) {
    try {
      runHook(point, hook, state);
    } catch (error) {
      process.stderr.write(`minibox-runc: warning: ${(error as Error).message}\n`);
    }
  }
}
