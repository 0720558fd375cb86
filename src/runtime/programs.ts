/**
 * programs.ts — the files the runtime starts: its two stages (one Node, one C) and its C helpers.
 *
 * A container is born from processes minibox starts: the init stage (stages/init-stage.ts, PID 1
 * until it execs the user's program), the exec stage (native/minibox-exec.c, for `minibox exec`),
 * the C monitor that stays with a detached container, and the tiny `--init`. The Node stage is
 * compiled into dist/runtime/stages/, the C programs into native/build/. This module finds them
 * whether the code runs from dist/ (the CLI) or from src/ (the tests import the sources).
 *
 * A stage is never started as plain `node STAGE.js`: it lives in the container's PID namespace,
 * where /proc/PID/exe would hand the container the host's node binary (runc CVE-2019-5736). It is
 * started as `minibox-launch NODE STAGE.js …` (native/minibox-launch.c), which runs Node
 * non-dumpable from a read-only, detached bind mount of its binary — `stageCommand` below; the C
 * exec stage goes through minibox-launch just the same (`execStageCommand`).
 *
 * Try: `minibox run --rm --init busybox ps -o pid,args` → `1 /sbin/docker-init -- ps -o pid,args`
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MiniboxError } from '../errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** dist/runtime/stages/NAME.js — next to this file once compiled, or under dist/ when run from src/. */
function plainStagePath(name: 'init-stage'): string {
  const sibling = path.join(here, 'stages', `${name}.js`);
  if (fs.existsSync(sibling)) return sibling;
  const built = path.resolve(here, '../../dist/runtime/stages', `${name}.js`);
  if (fs.existsSync(built)) return built;
  throw new MiniboxError(`the ${name.replace('-', ' ')} ${built} is missing — run \`npm run build\` first`);
}

/**
 * The stage Node starts: the start-up build of it (dist/startup/NAME.cjs, the same code joined
 * into one file by scripts/build-startup.mjs, which Node loads faster) when that is at
 * least as new as the plain build, else the plain one. `MINIBOX_UNBUNDLED=1` picks the plain one.
 */
export function stagePath(name: 'init-stage'): string {
  const plain = plainStagePath(name);
  if (process.env.MINIBOX_UNBUNDLED) return plain;
  const joined = path.resolve(path.dirname(plain), '../../startup', `${name}.cjs`);
  try {
    return fs.statSync(joined).mtimeMs >= fs.statSync(plain).mtimeMs ? joined : plain;
  } catch {
    return plain; // no start-up build (only tsc ran)
  }
}

/** A file under native/build/, from dist/runtime or src/runtime alike. */
export function nativeProgramPath(name: 'minibox-monitor' | 'minibox-init' | 'minibox-launch' | 'minibox-exec'): string {
  const built = path.resolve(here, '../../native/build', name);
  if (!fs.existsSync(built)) throw new MiniboxError(`${built} is missing — run \`npm run build\` (it needs gcc and make)`);
  return built;
}

/**
 * The command that starts a stage: [file, args] for spawn(), through minibox-launch (see the
 * header). `launcherArgs`: minibox-launch's own options, for a user namespace (native/launch-userns.h).
 */
export function stageCommand(name: 'init-stage', args: string[], launcherArgs: string[] = []): [string, string[]] {
  return [nativeProgramPath('minibox-launch'), [...launcherArgs, process.execPath, stagePath(name), ...args]];
}

/** The exec stage, a C program (native/minibox-exec.c), started through minibox-launch the same way. */
export function execStageCommand(launcherArgs: string[] = []): [string, string[]] {
  return [nativeProgramPath('minibox-launch'), [...launcherArgs, nativeProgramPath('minibox-exec')]];
}
