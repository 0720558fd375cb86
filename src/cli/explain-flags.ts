/**
 * explain-flags.ts — `--explain`, `--explain=all` and `--trace FILE` on every verb that touches the kernel.
 *
 * One place adds the flags and observes the command (explain/observe.ts) from just before its
 * action to just after it — or to its failure, which main.ts reports after the story is told.
 * `--explain=all` is its own (hidden) flag rather than an optional value of `--explain`:
 * commander would otherwise take `run --explain busybox` to mean the level "busybox".
 *
 * Try: `minibox run -d --name told busybox sleep 9 && minibox stop --explain -t 1 told 2>&1 | grep TERM`
 * → `SIGTERM to its PID 1: its stop signal; 1 s to exit`
 */
import { Option, type Command } from 'commander';

interface ExplainFlags {
  explain?: boolean;
  'explain=all'?: boolean;
  'explain=story'?: boolean;
  trace?: string;
}

let stopObserving: (() => void) | undefined;

/** Adds the flags to `command` and observes its action when they are given. */
export function withExplainFlags(command: Command, what: string, options: { trace?: boolean } = {}): Command {
  command
    .option('--explain', `tell ${what}, step by step (--explain=all: one line per kernel call)`)
    .addOption(new Option('--explain=all', 'one sentence per kernel call').hideHelp())
    .addOption(new Option('--explain=story', 'the story (the default)').hideHelp());
  if (options.trace !== false) command.option('--trace <file>', 'write every kernel call to FILE as a JSON line, with its phase');
  command.hook('preAction', async (_command, action) => {
    const flags = action.opts<ExplainFlags>();
    const explain = flags['explain=all'] ? 'all' as const : flags.explain || flags['explain=story'] ? 'story' as const : undefined;
    if (!explain && !flags.trace) return;
    const { observe } = await import('../explain/observe.js');
    stopObserving = observe({ ...(explain ? { explain } : {}), ...(flags.trace ? { traceFile: flags.trace } : {}), subject: `this ${action.name()}` });
  });
  command.hook('postAction', () => finishExplaining());
  return command;
}

/** Tells what was observed (main.ts calls it on failure too, before the error line). */
export function finishExplaining(): void {
  const stop = stopObserving;
  stopObserving = undefined;
  stop?.();
}
