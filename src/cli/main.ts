/**
 * main.ts — the `minibox` command line. Only parsing and printing live in `src/cli/`: each
 * command calls one library function (image/, engine/, runtime/) with typed options and prints
 * what it returns, so the same functions can later back a Docker-compatible API.
 *
 * Failures: a `MiniboxError` prints one line, `minibox: <message>`, and exits with its code
 * (125 for engine errors, see errors.ts). Anything unexpected prints the same way plus, with
 * MINIBOX_DEBUG=1, its stack.
 */
import { Command, CommanderError } from 'commander';
import { MiniboxError, ExitCode, describeError } from '../errors.js';
import { registerLifecycleCommands } from './commands/container.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerImageCommands } from './commands/images.js';
import { registerLoginCommands } from './commands/login.js';
import { registerNetworkCommands } from './commands/network.js';
import { registerRunCommand } from './commands/run.js';
import { registerVolumeCommands } from './commands/volume.js';
import { registerExecCommand } from './commands/exec.js';
import { registerTopCommand } from './commands/top.js';
import { registerDiffCommand } from './commands/diff.js';
import { registerStatsCommand } from './commands/stats.js';
import { registerUpdateCommand } from './commands/update.js';
import { registerPortCommand } from './commands/port.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('minibox')
    .description('An educational container runtime: pull OCI images, stack them with overlayfs, run them in namespaces.')
    .version('0.1.0')
    .option('--root <dir>', 'state root (default: $MINIBOX_ROOT or /var/lib/minibox)')
    .option('--insecure-registry <host>', 'allow plain HTTP for this registry (repeatable; also "insecure-registries" in /etc/minibox/config.json)', collect, [])
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions() // `run IMAGE CMD -x`: options after the image belong to CMD
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  registerImageCommands(program);
  registerLoginCommands(program);
  registerNetworkCommands(program);
  registerRunCommand(program);
  registerLifecycleCommands(program);
  registerVolumeCommands(program);
  registerExecCommand(program);
  registerTopCommand(program);
  registerDiffCommand(program);
  registerPortCommand(program);
  registerDoctorCommand(program);
  registerStatsCommand(program);
  registerUpdateCommand(program);
  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportFailure(error);
  }
}

export function reportFailure(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version "fail" with exit code 0; usage errors are engine errors (125) like Docker's.
    return error.exitCode === 0 ? 0 : ExitCode.Engine;
  }
  const code = error instanceof MiniboxError ? error.exitCode : ExitCode.Engine;
  process.stderr.write(`minibox: ${describeError(error)}\n`);
  if (process.env.MINIBOX_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return code;
}
