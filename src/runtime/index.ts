/**
 * runtime — turns an OCI bundle (config.json + root file system) into a running, isolated
 * process. Reading order for students: spec.ts → run-container.ts and start-protocol.ts (the
 * engine's side) → channel.ts → init-stage.ts (the container's birth, step by step) →
 * rootfs.ts, devices.ts, protect.ts, credentials.ts, command.ts, exec-handoff.ts, terminal.ts;
 * then monitor.ts (detached containers) and exec-process.ts → exec-stage.ts (`minibox exec`).
 */
export {
  runContainer, initStagePath, startInitStageEarly, EarlyInitStage, type EarlyStartOptions, type RunOptions, type RunResult,
} from './run-container.js';
export { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from './defaults.js';
export { OVERLAY_ANNOTATIONS, readBundle, type RuntimeSpec, type SpecMount, type SpecProcess } from './spec.js';
export { resolveInRoot } from './resolve-in-root.js';
export { startDetached, nativeProgramPath, type DetachedOptions, type DetachedStart } from './monitor.js';
