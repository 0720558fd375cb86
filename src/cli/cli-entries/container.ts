/**
 * cli-entries/container.ts — the CLI with the lifecycle verbs alone (ps, logs, start, stop,
 * restart, kill, pause, unpause, wait, rename, rm, inspect). bin/minibox starts its joined file
 * (dist/startup/verb-VERB.cjs) for each of them (scripts/build-startup.mjs).
 *
 * Try: `minibox rm --help | head -1` → `Usage: minibox rm [OPTIONS] CONTAINER [CONTAINER...]`
 */
import { runCli } from '../main.js';
import { registerLifecycleCommands } from '../commands/container-command.js';

runCli([{
  names: ['ps', 'logs', 'start', 'stop', 'restart', 'kill', 'pause', 'unpause', 'wait', 'rename', 'rm', 'inspect'],
  load: async () => registerLifecycleCommands,
}]);
