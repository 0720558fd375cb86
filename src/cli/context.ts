/**
 * context.ts — what every command needs from the global options and the config file
 * (config.ts): the state root and the registries the user allowed to be reached over plain HTTP.
 */
import readline from 'node:readline/promises';
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

/**
 * Asks a yes/no question on stdin, as Docker's prune commands do (they read stdin whether or not
 * it is a terminal: `echo y | minibox system prune` works, and an empty stdin means no).
 */
export async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    return false;
  } finally {
    rl.close();
  }
}
