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
import { collect } from './context.js';

type Register = (program: Command) => void;

/**
 * Each module of src/cli/commands and the top-level commands it defines. Node spends more time
 * loading a module graph than running most commands, so `minibox run` loads only commands/run.js
 * (and what it needs), not the registry client, the unpacker or cli-progress. Help, an unknown
 * command and the `container` group (to which several modules add) load all of them, in this order.
 */
const COMMAND_MODULES: { names: string[]; load: () => Promise<Register> }[] = [
  { names: ['pull', 'images', 'rmi', 'tag', 'history', 'image'], load: async () => (await import('./commands/images-command.js')).registerImageCommands },
  { names: ['login', 'logout'], load: async () => (await import('./commands/login-command.js')).registerLoginCommands },
  { names: ['network'], load: async () => (await import('./commands/network-command.js')).registerNetworkCommands },
  { names: ['run'], load: async () => (await import('./commands/run-command.js')).registerRunCommand },
  { names: ['ps', 'logs', 'start', 'stop', 'restart', 'kill', 'wait', 'rm', 'inspect'], load: async () => (await import('./commands/container-command.js')).registerLifecycleCommands },
  { names: ['volume'], load: async () => (await import('./commands/volume-command.js')).registerVolumeCommands },
  { names: ['exec'], load: async () => (await import('./commands/exec-command.js')).registerExecCommand },
  { names: ['top'], load: async () => (await import('./commands/top-command.js')).registerTopCommand },
  { names: ['diff'], load: async () => (await import('./commands/diff-command.js')).registerDiffCommand },
  { names: ['port'], load: async () => (await import('./commands/port-command.js')).registerPortCommand },
  { names: ['doctor'], load: async () => (await import('./commands/doctor-command.js')).registerDoctorCommand },
  { names: ['stats'], load: async () => (await import('./commands/stats-command.js')).registerStatsCommand },
  { names: ['build', 'builder'], load: async () => (await import('./commands/build-command.js')).registerBuildCommands },
  { names: ['save', 'load'], load: async () => (await import('./commands/archive-command.js')).registerArchiveCommands },
  { names: ['push'], load: async () => (await import('./commands/push-command.js')).registerPushCommand },
  { names: ['commit', 'export', 'import'], load: async () => (await import('./commands/commit-command.js')).registerCommitCommands },
  { names: ['update'], load: async () => (await import('./commands/update-command.js')).registerUpdateCommand },
  { names: ['system'], load: async () => (await import('./commands/system-command.js')).registerSystemCommands },
];

/** The first word of argv that is a command (skipping the global options and their values). */
function commandWord(argv: string[]): string | undefined {
  const takesValue = new Set(['--root', '--insecure-registry']);
  for (let i = 2; i < argv.length; i++) {
    const word = argv[i]!;
    if (takesValue.has(word)) { i++; continue; }
    if (!word.startsWith('-')) return word;
  }
  return undefined;
}

/** The program with every command (argv given: only the module that defines argv's command). */
export async function buildProgram(argv?: string[]): Promise<Command> {
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
  const word = argv ? commandWord(argv) : undefined;
  const versionOnly = argv !== undefined && word === undefined && (argv.includes('--version') || argv.includes('-V'));
  const only = COMMAND_MODULES.filter((module) => word !== undefined && module.names.includes(word));
  for (const module of versionOnly ? [] : only.length === 1 ? only : COMMAND_MODULES) (await module.load())(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
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
