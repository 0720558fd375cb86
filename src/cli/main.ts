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

/**
 * Adds a module's commands to the program. `only`, when given, is the one top-level command argv
 * names: a module may then add that command alone. Each command builds its options, help and
 * examples as it is added, and a module like the lifecycle verbs' adds 24 (at the top and under
 * `container`): ~6 ms of every `minibox ps` (CPU, paired, issue #17) for commands it cannot run.
 */
type Register = (program: Command, only?: string) => void;

/** A module of src/cli/commands and the top-level commands it defines (command-modules.ts lists them). */
export interface CommandModule { names: string[]; load: () => Promise<Register> }

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

/** The program with the modules' commands (argv given: only the module that defines argv's command). */
export async function buildProgram(modules: CommandModule[], argv?: string[]): Promise<Command> {
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
  const only = modules.filter((module) => word !== undefined && module.names.includes(word));
  const single = only.length === 1 ? word : undefined; // argv names one command of one module
  for (const module of versionOnly ? [] : only.length === 1 ? only : modules) (await module.load())(program, single);
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

export async function main(argv: string[], modules: CommandModule[]): Promise<number> {
  let program: Command | undefined;
  try {
    program = await buildProgram(modules, argv);
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

/**
 * Calls `attach` with process.stdout (or stderr) once something first reads it. Both are getters:
 * Node makes the stream on first use — a tty.WriteStream for a terminal, a net.Socket for a pipe,
 * a SyncWriteStream for a file — loading the modules it needs then (~3 ms each, `--cpu-prof`).
 * `minibox ps`, `rm -f` and `run -d` never write to stderr, and `run --rm IMG true` to neither:
 * listening for EPIPE should not make them. The getter is wrapped, not replaced: Node's still
 * makes (and keeps) the one stream.
 */
function whenMade(name: 'stdout' | 'stderr', attach: (stream: NodeJS.WriteStream) => void): void {
  const own = Object.getOwnPropertyDescriptor(process, name);
  const make = own?.get;
  if (!make || !own.configurable) {
    attach(process[name]); // not a getter (an embedder's process): the stream exists already
    return;
  }
  let attached = false;
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: own.enumerable ?? true,
    get(): NodeJS.WriteStream {
      const stream = make.call(process) as NodeJS.WriteStream;
      if (!attached) {
        attached = true;
        attach(stream);
      }
      return stream;
    },
  });
}

/**
 * What an entry point (run-cli.ts, cli-entries/) runs: `main`, then its exit code. A reader that
 * closes the pipe early (`minibox ps | head`) ends the output quietly, as Docker's CLI does.
 */
export function runCli(modules: CommandModule[]): void {
  for (const name of ['stdout', 'stderr'] as const) {
    whenMade(name, (stream) => stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0); // the reader's choice, not an error
      throw error;
    }));
  }
  // No top-level await: scripts/build-startup.mjs joins the CLI into one CommonJS file, which has none.
  void main(process.argv, modules).then((code) => { process.exitCode = code; });
}
