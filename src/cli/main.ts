/**
 * main.ts — the `minibox` command line. Only parsing and printing live in `src/cli/`: each
 * command calls one library function (image/, engine/, runtime/) with typed options and prints
 * what it returns, so the same functions can later back a Docker-compatible API.
 *
 * Failures, in one style as Docker's CLI: a `MiniboxError` prints one line, `minibox: <message>`,
 * and exits with its code (125 for engine errors, see errors.ts); a usage mistake (a bad flag, a
 * missing argument, a UsageError) ends with "See 'minibox run --help'." naming the command (on
 * the same line: every error is one line). Anything unexpected prints the same way plus, with
 * MINIBOX_DEBUG=1, its stack. Bare `minibox` prints the help to stdout and exits 0, as `docker`.
 *
 * Try: `minibox --version` → `0.1.0`, and `minibox frobnicate; echo $?` → `'frobnicate' is
 * not a minibox command … 125`
 */
import { Command, CommanderError } from 'commander';
import { MiniboxError, ExitCode, UsageError, describeError } from '../errors.js';
import { collect, commandPath, requireRootUnlessRootless } from './context.js';
import { HELP_CONFIGURATION, finishHelp } from './help.js';
import { finishExplaining } from './explain-flags.js';

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
  { names: ['run', 'create'], load: async () => (await import('./commands/run-command.js')).registerRunCommands },
  { names: ['ps', 'logs', 'start', 'stop', 'restart', 'kill', 'pause', 'unpause', 'wait', 'rename', 'rm', 'inspect'], load: async () => (await import('./commands/container-command.js')).registerLifecycleCommands },
  { names: ['attach'], load: async () => (await import('./commands/attach-command.js')).registerAttachCommand },
  { names: ['volume'], load: async () => (await import('./commands/volume-command.js')).registerVolumeCommands },
  { names: ['exec'], load: async () => (await import('./commands/exec-command.js')).registerExecCommand },
  { names: ['top'], load: async () => (await import('./commands/top-command.js')).registerTopCommand },
  { names: ['cp'], load: async () => (await import('./commands/cp-command.js')).registerCpCommands },
  { names: ['diff'], load: async () => (await import('./commands/diff-command.js')).registerDiffCommand },
  { names: ['port'], load: async () => (await import('./commands/port-command.js')).registerPortCommand },
  { names: ['doctor'], load: async () => (await import('./commands/doctor-command.js')).registerDoctorCommand },
  { names: ['stats'], load: async () => (await import('./commands/stats-command.js')).registerStatsCommand },
  { names: ['build', 'builder'], load: async () => (await import('./commands/build-command.js')).registerBuildCommands },
  { names: ['save', 'load'], load: async () => (await import('./commands/archive-command.js')).registerArchiveCommands },
  { names: ['push'], load: async () => (await import('./commands/push-command.js')).registerPushCommand },
  { names: ['commit', 'export', 'import'], load: async () => (await import('./commands/commit-command.js')).registerCommitCommands },
  { names: ['lesson'], load: async () => (await import('./commands/lesson-command.js')).registerLessonCommands },
  { names: ['update'], load: async () => (await import('./commands/update-command.js')).registerUpdateCommand },
  { names: ['version', 'info'], load: async () => (await import('./commands/version-command.js')).registerVersionCommands },
  { names: ['events'], load: async () => (await import('./commands/events-command.js')).registerEventsCommand },
  { names: ['system'], load: async () => (await import('./commands/system-command.js')).registerSystemCommands },
  { names: ['serve'], load: async () => (await import('./commands/serve-command.js')).registerServeCommand },
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
    .version('0.1.0', '-v, --version', 'print version information and quit')
    .option('--root <dir>', 'state root (default: $MINIBOX_ROOT or /var/lib/minibox)')
    .option('--insecure-registry <host>', 'allow plain HTTP for this registry (repeatable; also "insecure-registries" in /etc/minibox/config.json)', collect, [])
    .configureHelp(HELP_CONFIGURATION) // inherited by every command added below
    .hook('preAction', (_program, action) => requireRootUnlessRootless(action)) // before any check of the action's own
    .enablePositionalOptions() // `run IMAGE CMD -x`: options after the image belong to CMD
    .exitOverride()
    .configureOutput({ outputError: () => { /* reportFailure prints errors, in one style */ } });
  const word = argv ? commandWord(argv) : undefined;
  const versionOnly = argv !== undefined && word === undefined && (argv.includes('--version') || argv.includes('-v'));
  const only = COMMAND_MODULES.filter((module) => word !== undefined && module.names.includes(word));
  for (const module of versionOnly ? [] : only.length === 1 ? only : COMMAND_MODULES) (await module.load())(program);
  finishHelp(program);
  return program;
}

/** The deepest command argv names (`image ls` in `minibox --root R image ls -q`), and the words after it. */
function walkCommands(program: Command, argv: string[]): { command: Command; rest: string[] } {
  let at = program;
  const words = argv.slice(2).filter((word, i, all) => !word.startsWith('-') && !['--root', '--insecure-registry'].includes(all[i - 1] ?? ''));
  let used = 0;
  for (const word of words) {
    const sub = at.commands.find((command) => command.name() === word || command.aliases().includes(word));
    if (!sub) break;
    at = sub;
    used += 1;
  }
  return { command: at, rest: words.slice(used) };
}

function commandOf(program: Command, argv: string[]): Command {
  return walkCommands(program, argv).command;
}

export async function main(argv: string[]): Promise<number> {
  let program: Command | undefined;
  try {
    program = await buildProgram(argv);
    const { command, rest } = walkCommands(program, argv);
    if (command.commands.length > 0 && rest.length === 0 && !argv.slice(2).some((word) => /^(-h|--help|-v|--version)$/.test(word))) {
      command.outputHelp(); // bare `minibox` or `minibox image`: the help, on stdout, exit 0 (as `docker`)
      return 0;
    }
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    finishExplaining(); // the story up to the failure, then the error line
    return reportFailure(error, program ? commandOf(program, argv) : undefined);
  }
}

/** Commander's "error: unknown option '--foo'" in minibox's words. */
function usageMessage(error: CommanderError, command: Command | undefined): string {
  const text = error.message.replace(/^error: /, '');
  if (error.code === 'commander.unknownCommand') {
    const word = /'([^']*)'/.exec(text)?.[1] ?? text;
    return `'${word}' is not a ${command ? commandPath(command) : 'minibox'} command`;
  }
  return text.replace(/\n\(Did you mean (.*)\?\)/, ' (did you mean $1?)').replace(/\.$/, '');
}

/** A usage mistake names the help to read, on the same line: "…. See 'minibox run --help'." */
function withSee(message: string, command: Command | undefined): string {
  return command ? `${message.replace(/\.$/, '')}. See '${commandPath(command)} --help'.` : message;
}

export function reportFailure(error: unknown, command?: Command): number {
  if (error instanceof CommanderError) {
    // --help and --version "fail" with exit code 0; usage errors are engine errors (125) like Docker's.
    if (error.exitCode === 0) return 0;
    process.stderr.write(`minibox: ${withSee(usageMessage(error, command), command)}\n`);
    return ExitCode.Engine;
  }
  const code = error instanceof MiniboxError ? error.exitCode : ExitCode.Engine;
  const message = describeError(error).replace(/^minibox: /, '');
  process.stderr.write(`minibox: ${error instanceof UsageError ? withSee(message, command) : message}\n`);
  if (process.env.MINIBOX_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return code;
}
