/**
 * container-command.ts — the lifecycle commands, registered twice as Docker has them: at the top
 * (`minibox ps`, `minibox stop web`) and under `minibox container` (`container ls`,
 * `container stop web`, `container prune`). One definition each, so the two never drift apart.
 *
 * Try: `minibox run --name box busybox true && minibox container ls -a --format '{{.Names}}'` →
 * `box`
 */
import type { Command } from 'commander';
import { registerInspectCommand } from './inspect-command.js';
import {
  registerContainerPruneCommand, registerKillCommand, registerPauseCommands, registerRenameCommand, registerRestartCommand, registerRmCommand, registerStartCommand,
  registerStopCommand, registerWaitCommand,
} from './lifecycle-command.js';
import { registerLogsCommand } from './logs-command.js';
import { registerPsCommand } from './ps-command.js';

/** Each top-level lifecycle command by name, and what adds it (`pause` adds `unpause` too). */
const BY_NAME = new Map<string, (parent: Command) => void>([
  ['ps', registerPsCommand], ['logs', registerLogsCommand], ['start', registerStartCommand], ['stop', registerStopCommand],
  ['restart', registerRestartCommand], ['kill', registerKillCommand], ['pause', registerPauseCommands],
  ['unpause', registerPauseCommands], ['wait', registerWaitCommand], ['rename', registerRenameCommand],
  ['rm', registerRmCommand], ['inspect', registerInspectCommand],
]);

/** Every lifecycle command, or with `only` (`ps` in `minibox ps`) that one alone (main.ts `Register`). */
export function registerLifecycleCommands(program: Command, only?: string): void {
  const alone = only === undefined ? undefined : BY_NAME.get(only);
  if (alone) {
    alone(program);
    return;
  }
  registerPsCommand(program);
  registerLogsCommand(program);
  registerStartCommand(program);
  registerStopCommand(program);
  registerRestartCommand(program);
  registerKillCommand(program);
  registerPauseCommands(program);
  registerWaitCommand(program);
  registerRenameCommand(program);
  registerRmCommand(program);
  registerInspectCommand(program);

  const container = containerGroup(program);
  registerPsCommand(container, 'ls', ['list', 'ps']);
  registerLogsCommand(container);
  registerStartCommand(container);
  registerStopCommand(container);
  registerRestartCommand(container);
  registerKillCommand(container);
  registerPauseCommands(container);
  registerWaitCommand(container);
  registerRenameCommand(container);
  registerRmCommand(container, 'rm', ['remove']);
  registerInspectCommand(container, 'container');
  registerContainerPruneCommand(container);
}

/** The `container` command group (created once; other modules may add `container exec` etc.). */
export function containerGroup(program: Command): Command {
  return program.commands.find((command) => command.name() === 'container')
    ?? program.command('container').description('Manage containers');
}
