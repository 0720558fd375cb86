/**
 * lifecycle-command.ts — `start`, `stop`, `restart`, `kill`, `pause`, `unpause`, `wait`, `rename`,
 * `rm` and `container prune`.
 *
 * Like Docker's, each takes one or more containers (name, id or id prefix; `rename` one), acts on
 * each in turn, prints the name as given (or, for `wait`, the exit code), and on a failure prints
 * one line and goes on with the next; the exit code is then 1 (ExitCode.VerbFailed, Docker's for a
 * failed daemon request). Usage errors stay 125. The work is in
 * src/lifecycle/{start,stop,remove,rename}.ts.
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox stop -t 1 web nosuch; echo
 * $?` → `web … No such container: nosuch … 1`
 */
import type { Command } from 'commander';
import { describeError, ExitCode, UsageError } from '../../errors.js';
import { formatBytes } from '../../format.js';
import type { StateRoot } from '../../state-root.js';
import { reconcileAll } from '../../container/reconcile.js';
import { pruneContainers, removeContainerById } from '../../lifecycle/remove.js';
import { startContainer } from '../../lifecycle/start.js';
import { findContainer } from '../../container/container-store.js';
import { killContainer, stopContainer, waitContainer, WAIT_CONDITIONS } from '../../lifecycle/stop.js';
import { contextOf, requireTerminalFor, say } from '../context.js';
import { withExplainFlags } from '../explain-flags.js';
import { recordContainerEvent } from '../../events/event-log.js';

/** Runs `action` for each named container; failures print and make the exit code 1. */
export async function forEachContainer(root: StateRoot, names: string[], action: (id: string, name: string) => Promise<void>): Promise<void> {
  let failed = false;
  for (const name of names) {
    try {
      await action(findContainer(root, name).Id, name);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      process.stderr.write(`minibox: ${describeError(error)}\n`);
      failed = true;
    }
  }
  if (failed) process.exitCode = ExitCode.VerbFailed;
}

function parseSeconds(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) throw new UsageError(`invalid value for --time: ${text}: use whole seconds`);
  return Number(text);
}

export function registerStartCommand(parent: Command): void {
  parent
    .command('start')
    .description('Start one or more stopped containers')
    .argument('<containers...>', 'container names or ids')
    .option('-a, --attach', 'attach to the container\'s output and exit with its exit code')
    .option('-i, --interactive', 'attach this standard input to the container\'s')
    .option('--detach-keys <keys>', 'keys that detach and leave the container running (default ctrl-p,ctrl-q)')
    .action(async (names: string[], flags: { attach?: boolean; interactive?: boolean; detachKeys?: string }, cmd: Command) => {
      const { root } = contextOf(cmd);
      if ((flags.attach || flags.interactive) && names.length > 1) throw new UsageError('you cannot start and attach multiple containers at once');
      if (!flags.attach && !flags.interactive) {
        await forEachContainer(root, names, async (id, name) => { await startContainer(root, id); say(name); });
        return;
      }
      const record = findContainer(root, names[0]!);
      requireTerminalFor({ interactive: flags.interactive === true, tty: record.Config.Tty }); // `start -i` of a -t container
      const { startAttached } = await import('../../lifecycle/attach.js');
      const outcome = await startAttached(root, record.Id, {
        stdin: flags.interactive === true, sigProxy: true, ...(flags.detachKeys ? { detachKeys: flags.detachKeys } : {}),
      });
      process.exitCode = outcome.detached ? 0 : outcome.exitCode; // detached: silent, as docker start -ai
    });
}

export function registerStopCommand(parent: Command): void {
  withExplainFlags(parent
    .command('stop')
    .description('Stop one or more running containers (the stop signal, then SIGKILL after the grace period)')
    .argument('<containers...>', 'container names or ids')
    .option('-t, --time <seconds>', 'seconds to wait before killing the container (default 10)')
    .option('--timeout <seconds>', 'same as --time')
    .action(async (names: string[], flags: { time?: string; timeout?: string }, cmd: Command) => {
      const { root } = contextOf(cmd);
      const seconds = parseSeconds(flags.time ?? flags.timeout);
      await forEachContainer(root, names, async (id, name) => { await stopContainer(root, id, seconds); say(name); });
    }), 'the stop');
}

export function registerRestartCommand(parent: Command): void {
  parent
    .command('restart')
    .description('Restart one or more containers')
    .argument('<containers...>', 'container names or ids')
    .option('-t, --time <seconds>', 'seconds to wait before killing the container (default 10)')
    .action(async (names: string[], flags: { time?: string }, cmd: Command) => {
      const { root } = contextOf(cmd);
      const seconds = parseSeconds(flags.time);
      await forEachContainer(root, names, async (id, name) => {
        await stopContainer(root, id, seconds);
        recordContainerEvent(root, await startContainer(root, id), 'restart');
        say(name);
      });
    });
}

export function registerKillCommand(parent: Command): void {
  parent
    .command('kill')
    .description('Kill one or more running containers')
    .argument('<containers...>', 'container names or ids')
    .option('-s, --signal <signal>', 'signal to send (name or number)', 'KILL')
    .action(async (names: string[], flags: { signal: string }, cmd: Command) => {
      const { root } = contextOf(cmd);
      await forEachContainer(root, names, async (id, name) => { await killContainer(root, id, flags.signal); say(name); });
    });
}

export function registerPauseCommands(parent: Command): void {
  for (const [verb, description] of [['pause', 'Pause all processes within one or more containers (cgroup v2 freezer)'],
    ['unpause', 'Unpause all processes within one or more containers']] as const) {
    withExplainFlags(parent
      .command(verb)
      .description(description)
      .argument('<containers...>', 'container names or ids')
      .addHelpText('after', verb === 'pause' ? `
Examples:
  minibox pause web                        # its processes stop in place; ps: Up … (Paused)
  minibox pause --explain web              # see the cgroup.freeze write and the kernel's answer`
        : `
Examples:
  minibox unpause web                      # its processes go on where they stopped`)
      .action(async (names: string[], _flags: unknown, cmd: Command) => {
        const { root } = contextOf(cmd);
        const { pauseContainer, unpauseContainer } = await import('../../lifecycle/pause.js');
        await forEachContainer(root, names, async (id, name) => {
          await (verb === 'pause' ? pauseContainer : unpauseContainer)(root, id);
          say(name);
        });
      }), 'the cgroup writes');
  }
}

export function registerWaitCommand(parent: Command): void {
  parent
    .command('wait')
    .description('Block until one or more containers stop, then print their exit codes')
    .argument('<containers...>', 'container names or ids')
    .option('--condition <condition>', `what to wait for: ${WAIT_CONDITIONS.join(', ')}`, 'not-running')
    .action(async (names: string[], flags: { condition: string }, cmd: Command) => {
      const { root } = contextOf(cmd);
      const condition = WAIT_CONDITIONS.find((known) => known === flags.condition);
      if (!condition) throw new UsageError(`invalid --condition ${flags.condition}: use ${WAIT_CONDITIONS.join(', ')}`);
      await forEachContainer(root, names, async (id) => { say(String(await waitContainer(root, id, condition))); });
    });
}

export function registerRenameCommand(parent: Command): void {
  parent
    .command('rename')
    .description('Rename a container')
    .argument('<container>', 'container name or id')
    .argument('<new-name>', 'its new name')
    .action(async (container: string, newName: string, _flags: unknown, cmd: Command) => {
      const { renameContainer } = await import('../../lifecycle/rename.js');
      await renameContainer(contextOf(cmd).root, container, newName);
    });
}

export function registerRmCommand(parent: Command, name = 'rm', aliases: string[] = []): void {
  withExplainFlags(parent
    .command(name)
    .aliases(aliases)
    .description('Remove one or more containers (their writable layer is deleted)')
    .argument('<containers...>', 'container names or ids')
    .option('-f, --force', 'force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'remove anonymous volumes associated with the container')
    .action(async (names: string[], flags: { force?: boolean; volumes?: boolean }, cmd: Command) => {
      const { root } = contextOf(cmd);
      let failed = false;
      for (const given of names) {
        try {
          // `rm -f` of a container that does not exist is not an error, as in Docker.
          let id: string;
          try {
            id = findContainer(root, given).Id;
          } catch (error) {
            if (flags.force) continue;
            throw error;
          }
          await removeContainerById(root, id, { force: flags.force ?? false, volumes: flags.volumes ?? false });
          say(given);
        } catch (error) {
          process.stderr.write(`minibox: ${describeError(error)}\n`);
          failed = true;
        }
      }
      if (failed) process.exitCode = ExitCode.VerbFailed;
    }), 'the removal');
}

export function registerContainerPruneCommand(parent: Command): void {
  parent
    .command('prune')
    .description('Remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (flags: { force?: boolean }, cmd: Command) => {
      const { root } = contextOf(cmd);
      if (!flags.force) {
        process.stdout.write('WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
        if (!/^y(es)?$/i.test((await readLine()).trim())) return;
      }
      const { ids, bytes } = await pruneContainers(root, await reconcileAll(root));
      if (ids.length > 0) say(`Deleted Containers:\n${ids.join('\n')}\n`);
      say(`Total reclaimed space: ${formatBytes(bytes)}`);
    });
}

async function readLine(): Promise<string> {
  return await new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      if (text.includes('\n')) done();
    };
    const done = (): void => {
      process.stdin.off('data', onData);
      process.stdin.pause();
      resolve(text.split('\n')[0] ?? '');
    };
    process.stdin.on('data', onData);
    process.stdin.once('end', done);
  });
}
