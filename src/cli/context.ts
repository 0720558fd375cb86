/**
 * context.ts — what every command needs from the global options and the config file
 * (config.ts): the state root and the registries the user allowed to be reached over plain HTTP.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { StateRoot, resolveStateRoot } from '../state-root.js';

export interface CliContext {
  root: StateRoot;
  insecureRegistries: string[];
}

export function contextOf(command: Command): CliContext {
  const options = command.optsWithGlobals<{ root?: string; insecureRegistry?: string[] }>();
  return {
    root: new StateRoot(resolveStateRoot(options.root)).prepare(),
    insecureRegistries: [...loadConfig().insecureRegistries, ...(options.insecureRegistry ?? [])],
  };
}

/** Prints one line to stdout. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** commander's collector for a repeatable option (`-e A -e B` → ['A', 'B']); pass `[]` as its default. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
