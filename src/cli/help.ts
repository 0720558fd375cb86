/**
 * help.ts — how `minibox … --help` looks: Docker's shapes (`Usage:  minibox run [OPTIONS] IMAGE
 * [COMMAND] [ARG...]`, upper-case arguments, no "(default: [])" on repeatable flags), at most 100
 * columns, an "Examples:" section on every page (help-examples.ts) and Docker's footer on pages
 * that list commands ("Run 'minibox image COMMAND --help' for more information on a command.").
 *
 * Try: `minibox run --help | awk 'length > 100' | wc -l` → `0` (no help line is wider than 100
 * columns).
 */
import { Help, type Argument, type Command, type Option } from 'commander';
import { commandPath } from './context.js';
import { EXAMPLES } from './help-examples.js';

export const HELP_WIDTH = 100;

/** `containers...` → `CONTAINER [CONTAINER...]`, `[dir]` → `[DIR]`, `privatePort` → `PRIVATE_PORT`. */
function argumentUsage(argument: Argument): string {
  const base = argument.name().replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  if (argument.variadic) {
    const one = base.replace(/S$/, '');
    return argument.required ? `${one} [${one}...]` : `[${one}...]`;
  }
  return argument.required ? base : `[${base}]`;
}

/** `[OPTIONS] IMAGE [IMAGE...]`, or the command's own `.usage()` where it set one. */
function usageOf(command: Command): string {
  const custom = (command as unknown as { _usage?: string })._usage;
  if (custom) return custom;
  const visibleOptions = command.options.filter((option) => !option.hidden);
  const words = [
    ...(visibleOptions.length > 0 ? ['[OPTIONS]'] : []),
    ...(command.commands.length > 0 ? ['COMMAND'] : []),
    ...command.registeredArguments.map(argumentUsage),
  ];
  return words.join(' ');
}

/** The settings every command inherits (set on the program before commands are added). */
export const HELP_CONFIGURATION = {
  // A narrower terminal wraps at its own width; a wider one, a pipe or a file at 100 columns.
  // A getter, read when help is printed (commander copies these settings into its Help then):
  // reading process.stdout makes the stream, which a command that prints nothing never needs
  // (see `runCli` in main.ts).
  get helpWidth(): number {
    return Math.min(process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : HELP_WIDTH, HELP_WIDTH);
  },
  minWidthToWrap: 20,
  sortSubcommands: false,
  commandUsage(command: Command): string {
    return `${commandPath(command)} ${usageOf(command)}`.trimEnd();
  },
  subcommandTerm(command: Command): string {
    return [command.name(), ...command.aliases()].join(', ');
  },
  optionDescription(this: Help, option: Option): string {
    const text = Help.prototype.optionDescription.call(this, option);
    return Array.isArray(option.defaultValue) && option.defaultValue.length === 0 ? text.replace(/ \(default: \[\]\)$/, '') : text;
  },
};

/** Examples (help-examples.ts) and the footer, added to every command of the finished program. */
export function finishHelp(program: Command): void {
  const visit = (command: Command): void => {
    const path = commandPath(command);
    const examples = EXAMPLES[path.replace(/^minibox ?/, '')] ?? EXAMPLES[path.replace(/^minibox container /, '')];
    if (examples) command.addHelpText('after', `\nExamples:\n${examples.map((line) => `  ${line}`).join('\n')}`);
    if (command.commands.length > 0) {
      command.addHelpText('after', `\nRun '${path} COMMAND --help' for more information on a command.`);
    }
    for (const sub of command.commands) {
      if (sub.name() !== 'help') visit(sub);
    }
  };
  visit(program);
}

/** Every command of the program, groups and their subcommands included (the program itself not). */
export function allCommands(program: Command): Command[] {
  return program.commands.flatMap((command) => [command, ...allCommands(command)]);
}
