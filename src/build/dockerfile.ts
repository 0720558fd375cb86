/**
 * dockerfile.ts — reading a Dockerfile: lines into instructions, the way Docker's parser does.
 *
 * A Dockerfile is a list of instructions, one per logical line:
 *   # comments                     whole lines starting with `#` (not after an instruction)
 *   RUN apt-get update && \\        a line ending in the escape character continues on the next
 *       apt-get install -y curl
 *   # escape=`                     parser directives: only at the very top, before anything else
 *   CMD ["httpd", "-f"]            exec form: a JSON array, the argv as written
 *   CMD httpd -f                   shell form: a string for `/bin/sh -c`
 *   COPY --from=build /out /app    flags (`--name=value`) before the arguments
 * Instruction names are case-insensitive. Nothing is run or expanded here: variables are
 * substituted later (substitute.ts), instruction by instruction, with Docker's rules for which
 * instructions expand which variables.
 *
 * Try: a Dockerfile with `FORM alpine` → `minibox build .` says
 * `Dockerfile:1: unknown instruction: FORM`.
 */
import { MiniboxError } from '../errors.js';

export const INSTRUCTIONS = [
  'FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME',
  'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
] as const;
export type InstructionName = (typeof INSTRUCTIONS)[number];

export interface Instruction {
  name: InstructionName;
  /** `--from=build` → from: 'build'. */
  flags: Record<string, string>;
  /** The arguments as written after the flags (continuations joined). */
  args: string;
  /** Set when the arguments are a JSON array of strings (exec form). */
  json?: string[];
  /** The instruction as the user wrote it, one line (for `Step N/M :` and history). */
  original: string;
  /** 1-based line where it starts. */
  line: number;
}

export interface Dockerfile {
  file: string;
  escape: string;
  instructions: Instruction[];
}

export class DockerfileError extends MiniboxError {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`, 1);
  }
}

/** The exec form: a JSON array of strings, or undefined for shell form. */
export function parseJsonForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(args);
    if (Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')) return parsed as string[];
  } catch { /* Docker falls back to shell form for text that is not a JSON array */ }
  return undefined;
}

/** `--chown=1:1 --from=x rest` → flags and rest. */
function splitFlags(text: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = text;
  for (;;) {
    const match = /^--([a-z][a-z-]*)(?:=(\S*))?\s*/.exec(rest);
    if (!match) break;
    flags[match[1]!] = match[2] ?? 'true';
    rest = rest.slice(match[0].length);
  }
  return { flags, rest };
}

/** Directives (`# escape=`, `# syntax=`) at the top, before any instruction or other comment. */
function readDirectives(lines: string[]): { escape: string; first: number } {
  let escape = '\\';
  let first = 0;
  for (; first < lines.length; first++) {
    const match = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(lines[first]!);
    if (!match) break;
    const key = match[1]!.toLowerCase();
    if (key === 'escape') {
      if (match[2] !== '\\' && match[2] !== '`') throw new MiniboxError(`invalid escape directive "${match[2]}": use \\ or \``);
      escape = match[2]!;
    } else if (key !== 'syntax' && key !== 'check') {
      break; // an ordinary comment ends the directives
    }
  }
  return { escape, first };
}

export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const { escape, first } = readDirectives(lines);
  const instructions: Instruction[] = [];
  let buffer = '';
  let start = 0;
  for (let i = first; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (buffer === '' && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (buffer !== '' && trimmed.startsWith('#')) continue; // comments inside a continued instruction are dropped
    if (buffer === '') start = i + 1;
    const continued = trimmed.endsWith(escape) && !trimmed.endsWith(`${escape}${escape}`);
    buffer += `${continued ? trimmed.slice(0, -1) : trimmed}${continued ? ' ' : ''}`;
    if (continued && i < lines.length - 1) continue;
    instructions.push(parseInstruction(buffer.trim(), file, start));
    buffer = '';
  }
  if (instructions.length === 0) throw new DockerfileError(file, 1, 'the file has no instructions');
  const firstFrom = instructions.findIndex((x) => x.name === 'FROM');
  const beforeFrom = firstFrom < 0 ? instructions : instructions.slice(0, firstFrom);
  const stray = beforeFrom.find((x) => x.name !== 'ARG');
  if (firstFrom < 0 || stray) {
    throw new DockerfileError(file, (stray ?? instructions[0]!).line, 'no build stage in current context: the first instruction must be FROM (ARG may come before it)');
  }
  return { file, escape, instructions };
}

function parseInstruction(text: string, file: string, line: number): Instruction {
  const match = /^(\S+)\s*(.*)$/s.exec(text)!;
  const name = match[1]!.toUpperCase();
  if (!(INSTRUCTIONS as readonly string[]).includes(name)) throw new DockerfileError(file, line, `unknown instruction: ${match[1]}`);
  const { flags, rest } = splitFlags(match[2]!.trim());
  const args = rest.trim();
  const instruction: Instruction = { name: name as InstructionName, flags, args, original: `${name} ${match[2]!.trim()}`.trim(), line };
  const json = parseJsonForm(args);
  if (json) instruction.json = json;
  else if (args.startsWith('[') && args.endsWith(']')) {
    throw new DockerfileError(file, line, `${name}: ${args} is not a valid JSON array of strings (exec form needs double quotes: ["a", "b"])`);
  }
  if (args === '') throw new DockerfileError(file, line, `${name} requires at least one argument`);
  if (name === 'SHELL' && !json) throw new DockerfileError(file, line, 'SHELL requires the arguments to be in JSON form');
  if ((name === 'COPY' || name === 'ADD') && (json ?? args.split(/\s+/)).length < 2) {
    throw new DockerfileError(file, line, `${name} requires at least two arguments, but got ${(json ?? args.split(/\s+/)).length}`);
  }
  return instruction;
}
