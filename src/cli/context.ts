/**
 * context.ts — what every command needs from the global options and the config file
 * (config.ts): the state root, the registries the user allowed to be reached over plain HTTP and
 * the mirrors to pull Docker Hub images from; and the checks every command makes before it
 * touches anything (root, a terminal for `-it`).
 *
 * Try: `minibox --insecure-registry registry.lan:5000 images --format '{{.Repository}}' | sort -u`
 * → `busybox` (the global options reach every command).
 */
import readline from 'node:readline/promises';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { ExitCode, MiniboxError } from '../errors.js';
import { StateRoot, resolveStateRoot } from '../state-root.js';

export interface RegistryContext {
  insecureRegistries: string[];
  /** Mirrors of Docker Hub, tried in order before it ("registry-mirrors" in config.json). */
  registryMirrors: string[];
}

export interface CliContext extends RegistryContext {
  root: StateRoot;
}

/** `minibox image ls` for the command `ls` under `image` (for messages: "See 'minibox image ls --help'."). */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/**
 * minibox mounts file systems, creates namespaces and keeps root-only files (image layers may hold
 * setuid programs): as another user, the first `scandir` fails with a bare EACCES. Say why instead.
 */
export function requireRoot(command: Command): void {
  if (process.geteuid?.() === 0) return;
  throw new MiniboxError(`this command needs root (minibox mounts file systems, creates namespaces and keeps root-only state): try 'sudo ${commandPath(command)}'`, ExitCode.Engine);
}

/** Commands that work for any user: they print, or touch only the user's own files. */
export const ROOTLESS_COMMANDS = new Set(['minibox version', 'minibox login', 'minibox logout', 'minibox doctor', 'minibox help']);

/** Run before every command's action (a commander preAction hook): root first, then anything else. */
export function requireRootUnlessRootless(command: Command): void {
  if (!ROOTLESS_COMMANDS.has(commandPath(command))) requireRoot(command);
}

/** The registry settings alone (what `login` needs; no state root, no root user). */
export function registryContextOf(command: Command): RegistryContext {
  const options = command.optsWithGlobals<{ insecureRegistry?: string[] }>();
  const config = loadConfig();
  return {
    insecureRegistries: [...config.insecureRegistries, ...(options.insecureRegistry ?? [])],
    registryMirrors: config.registryMirrors,
  };
}

export function contextOf(command: Command): CliContext {
  requireRoot(command);
  const options = command.optsWithGlobals<{ root?: string }>();
  return { root: new StateRoot(resolveStateRoot(options.root)).prepare(), ...registryContextOf(command) };
}

/**
 * `-it` needs this side's standard input to be a terminal: its keys go to the container's
 * pseudo-terminal in raw mode. From a pipe there is no terminal to put in raw mode, and the
 * container's shell would wait for keys that never come. Docker refuses it the same way, exit 1,
 * before anything is created (`echo ls | docker run -i IMAGE sh` is the way to pipe input).
 */
export function requireTerminalFor(flags: { interactive?: boolean; tty?: boolean }): void {
  if (flags.interactive && flags.tty && !process.stdin.isTTY) {
    throw new MiniboxError('the input device is not a TTY: use -i without -t to pipe input into a container', 1);
  }
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
