/**
 * runtime — turns an OCI bundle (config.json + root file system, see bundle/) into a running,
 * isolated process, the job runc does. Reading order for students:
 *   run-bundle.ts and start-protocol.ts (the engine's side: why Node needs a separate PID 1)
 *   → stages/channel.ts → stages/init-stage.ts (the container's birth, step by step)
 *   → rootfs/ (the file system it gets) and process/ (who the program runs as, and the execve)
 *   → monitor.ts (detached containers) → exec-in-container.ts → native/minibox-exec.c (`exec`).
 *
 * Try: `minibox run --rm busybox sh -c 'echo $$'` → `1` (the container's program is PID 1 of its
 * own PID namespace).
 */
export {
  runContainer, startInitStageEarly, EarlyInitStage, type EarlyStartOptions, type RunOptions, type RunResult,
} from './run-bundle.js';
export { nativeProgramPath, stagePath } from './programs.js';
export { startDetached, type DetachedOptions, type DetachedStart } from './monitor.js';
