/**
 * find-program.ts — finding the program to run, *inside* the container, the way runc does.
 *
 * execve(2) wants a path. `sh` is looked up in the container's own $PATH (from config.json's
 * env, not the host's) after pivot_root, so `/bin/sh` means the image's shell. Docker users know
 * the outcomes by their exit codes:
 *   127  the command does not exist: `exec: "foo": executable file not found in $PATH`
 *   126  it exists but cannot be run: a directory, no execute bit, or not a program the kernel
 *        understands (ENOEXEC: no `#!` line and not ELF)
 *
 * Try: `minibox run --rm busybox nosuch; echo $?` → `exec: "nosuch": executable file not found in
 * $PATH … 127`
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode } from '../../errors.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A failure to start the program, with the exit code Docker would give. */
export class CommandError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'CommandError';
    this.exitCode = exitCode;
  }
}

function isExecutableFile(candidate: string): boolean {
  try {
    if (!fs.statSync(candidate).isFile()) return false;
    fs.accessSync(candidate, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The value of PATH in a `KEY=value` environment list, or the default one. */
export function pathFromEnv(env: string[] = []): string {
  const entry = env.find((line) => line.startsWith('PATH='));
  return entry ? entry.slice(5) : DEFAULT_PATH;
}

/** Resolves `name` like exec.LookPath: a name with a slash is used as it is, else $PATH is searched. */
export function findProgram(name: string, env: string[] = []): string {
  if (name.includes('/')) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(name);
    } catch {
      throw new CommandError(`exec: "${name}": stat ${name}: no such file or directory`, ExitCode.NotFound);
    }
    if (stat.isDirectory()) throw new CommandError(`exec: "${name}": is a directory`, ExitCode.CannotExecute);
    if (!isExecutableFile(name)) throw new CommandError(`exec: "${name}": permission denied`, ExitCode.CannotExecute);
    return name;
  }
  for (const dir of pathFromEnv(env).split(':')) {
    const candidate = path.join(dir === '' ? '.' : dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new CommandError(`exec: "${name}": executable file not found in $PATH`, ExitCode.NotFound);
}

/** Maps an execve errno to Docker's exit code and message. */
export function execFailure(name: string, code: string): CommandError {
  if (code === 'ENOENT') return new CommandError(`exec: "${name}": no such file or directory (is its interpreter missing?)`, ExitCode.NotFound);
  if (code === 'ENOEXEC') return new CommandError(`exec: "${name}": exec format error`, ExitCode.CannotExecute);
  if (code === 'EACCES') return new CommandError(`exec: "${name}": permission denied`, ExitCode.CannotExecute);
  return new CommandError(`exec: "${name}": ${code}`, ExitCode.CannotExecute);
}
