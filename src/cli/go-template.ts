/**
 * go-template.ts — running a Go text/template (`--format`) against a value, as Docker's CLI does.
 *
 *   {{.State.Pid}}                                      a field, walked by dots
 *   {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}   a loop (over a map: sorted keys)
 *   {{if .State.Running}}up{{else}}down{{end}}          a condition
 *   {{json .Config}} {{upper .Name}} {{join .Args ","}} {{index .Labels "a"}} {{printf "%s" .Id}}
 *   table {{.ID}}\t{{.Names}}                           aligned columns with a header row
 *
 * Values print as Go's fmt does: strings bare, true/false, numbers, `map[key:value …]` with sorted
 * keys, `[a b c]`. A field that does not exist is an error, as Docker's ("map has no entry for key
 * "Nope""), never a silent `<no value>`. Functions: Go's builtins (and, or, not, eq, ne, lt, le,
 * gt, ge, len, index, print, printf, println, slice) and Docker's (json, upper, lower, title, join,
 * split, pad, truncate). The parser is go-template-parse.ts.
 *
 * Try: `minibox inspect --format '{{.Os}} {{json .Config.Cmd}}' busybox` → `linux ["/bin/sh"]`
 */
import { parseTemplate, TemplateError, type Command, type Node, type Operand, type Pipeline } from './go-template-parse.js';

export { TemplateError };

type Scope = Map<string, unknown>;
type Block = Exclude<Node, { kind: 'text' | 'action' }>;

/** Go's %v of a value. */
export function goString(value: unknown): string {
  if (value === undefined || value === null) return '<no value>';
  if (Array.isArray(value)) return `[${value.map(goString).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([key, item]) => `${key}:${goString(item)}`).join(' ')}]`;
  }
  return String(value);
}

function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** printf's verbs that `--format` users need: %s %v %d %q %x %%, with an optional width. */
function printf(format: string, ...args: unknown[]): string {
  let next = 0;
  return format.replace(/%(-?\d*)([svdqx%])/g, (_, width: string, verb: string) => {
    if (verb === '%') return '%';
    const value = args[next++];
    const text = verb === 'q' ? JSON.stringify(goString(value)) : verb === 'x' ? Buffer.from(goString(value)).toString('hex') : goString(value);
    const size = Math.abs(Number(width || 0));
    return width.startsWith('-') ? text.padEnd(size) : text.padStart(size);
  });
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateError(`incompatible types for comparison: ${goString(a)} and ${goString(b)}`);
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  json: (value) => JSON.stringify(value ?? null),
  upper: (value) => String(value).toUpperCase(),
  lower: (value) => String(value).toLowerCase(),
  title: (value) => String(value).replace(/\b\w/g, (letter) => letter.toUpperCase()),
  join: (list, separator) => (Array.isArray(list) ? list.map(goString).join(String(separator)) : goString(list)),
  split: (text, separator) => String(text).split(String(separator)),
  pad: (value, left, right) => `${' '.repeat(Number(left))}${goString(value)}${' '.repeat(Number(right))}`,
  truncate: (value, length) => goString(value).slice(0, Number(length)),
  len: (value) => {
    if (Array.isArray(value) || typeof value === 'string') return value.length;
    if (value && typeof value === 'object') return Object.keys(value).length;
    // as Go's: only strings, slices and maps have a length
    const type = value === null || value === undefined ? 'nil pointer' : `type ${typeof value === 'number' ? (Number.isInteger(value) ? 'int' : 'float64') : typeof value === 'boolean' ? 'bool' : typeof value}`;
    throw new TemplateError(`error calling len: len of ${type}`);
  },
  index: (value, ...keys) => keys.reduce((at: unknown, key) => {
    if (at === null || at === undefined) return undefined;
    if (Array.isArray(at)) {
      if (typeof key !== 'number' || key < 0 || key >= at.length) throw new TemplateError(`error calling index: index out of range: ${goString(key)}`);
      return at[key];
    }
    return (at as Record<string, unknown>)[String(key)];
  }, value),
  slice: (value, from, to) => (typeof value === 'string' || Array.isArray(value) ? value.slice(Number(from ?? 0), to === undefined ? undefined : Number(to)) : value),
  print: (...args) => args.map(goString).join(' '),
  println: (...args) => `${args.map(goString).join(' ')}\n`,
  printf: (format, ...args) => printf(String(format), ...args),
  not: (value) => !truthy(value),
  and: (...args) => args.find((arg) => !truthy(arg)) ?? args[args.length - 1],
  or: (...args) => args.find((arg) => truthy(arg)) ?? args[args.length - 1],
  eq: (a, ...others) => others.some((b) => a === b),
  ne: (a, b) => a !== b,
  lt: (a, b) => compare(a, b) < 0,
  le: (a, b) => compare(a, b) <= 0,
  gt: (a, b) => compare(a, b) > 0,
  ge: (a, b) => compare(a, b) >= 0,
};

class Execution {
  constructor(private readonly root: unknown) {}

  private field(operand: Extract<Operand, { kind: 'field' }>, dot: unknown, scope: Scope, at: number): unknown {
    let value: unknown;
    if (operand.base === 'dot') value = dot;
    else if (operand.base === '$') value = this.root;
    else if (scope.has(operand.base)) value = scope.get(operand.base);
    else throw new TemplateError(`:1:${at}: undefined variable "${operand.base}"`);
    for (const key of operand.path) {
      if (value === null || value === undefined) throw new TemplateError(`:1:${at}: executing "" at <${operand.text}>: nil pointer evaluating ${key}`);
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw new TemplateError(`:1:${at}: executing "" at <${operand.text}>: can't evaluate field ${key} in type ${Array.isArray(value) ? 'slice' : typeof value}`);
      }
      if (!(key in value)) throw new TemplateError(`:1:${at}: executing "" at <${operand.text}>: map has no entry for key "${key}"`);
      value = (value as Record<string, unknown>)[key];
    }
    return value;
  }

  private value(operand: Operand, dot: unknown, scope: Scope, at: number): unknown {
    switch (operand.kind) {
      case 'literal': return operand.value;
      case 'field': return this.field(operand, dot, scope, at);
      case 'pipeline': return this.pipeline(operand.pipeline, dot, scope);
      case 'function': return this.call(operand.name, [], at);
    }
  }

  private call(name: string, args: unknown[], at: number): unknown {
    const fn = FUNCTIONS[name];
    if (!fn) throw new TemplateError(`:1:${at}: function "${name}" not defined`);
    return fn(...args);
  }

  private command(command: Command, dot: unknown, scope: Scope, piped: unknown[]): unknown {
    const [first, ...rest] = command.operands;
    if (first!.kind === 'function') {
      if (!FUNCTIONS[first!.name]) throw new TemplateError(`:1:${command.at}: function "${first!.name}" not defined`);
      const args = rest.map((operand) => this.value(operand, dot, scope, command.at));
      return this.call(first!.name, [...args, ...piped], command.at);
    }
    if (rest.length > 0 || piped.length > 0) throw new TemplateError(`:1:${command.at}: can't give argument to non-function ${goString(first)}`);
    return this.value(first!, dot, scope, command.at);
  }

  pipeline(pipeline: Pipeline, dot: unknown, scope: Scope): unknown {
    let result: unknown;
    pipeline.commands.forEach((command, i) => { result = this.command(command, dot, scope, i === 0 ? [] : [result]); });
    if (pipeline.declare.length === 1) scope.set(pipeline.declare[0]!, result);
    return result;
  }

  private range(node: Block, dot: unknown, scope: Scope): string {
    const declare = node.pipeline.declare;
    const subject = this.pipeline({ ...node.pipeline, declare: [] }, dot, scope);
    let entries: [unknown, unknown][] = [];
    if (Array.isArray(subject)) entries = subject.map((item, i) => [i, item]);
    else if (subject && typeof subject === 'object') entries = Object.entries(subject).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    else if (typeof subject === 'number') entries = Array.from({ length: subject }, (_, i) => [i, i]);
    else if (subject !== null && subject !== undefined) throw new TemplateError(`range can't iterate over ${goString(subject)}`);
    if (entries.length === 0) return this.nodes(node.otherwise, dot, scope);
    return entries.map(([key, item]) => {
      const inner = new Map(scope);
      if (declare.length === 1) inner.set(declare[0]!, item);
      if (declare.length === 2) { inner.set(declare[0]!, key); inner.set(declare[1]!, item); }
      return this.nodes(node.body, item, inner);
    }).join('');
  }

  nodes(nodes: Node[], dot: unknown, scope: Scope): string {
    let out = '';
    for (const node of nodes) {
      if (node.kind === 'text') out += node.text;
      else if (node.kind === 'action') {
        const value = this.pipeline(node.pipeline, dot, scope);
        if (node.pipeline.declare.length === 0) out += goString(value);
      } else if (node.kind === 'range') out += this.range(node, dot, scope);
      else {
        const block: Block = node;
        const inner = new Map(scope); // `{{with $x := …}}` declares $x for the block only
        const value = this.pipeline(block.pipeline, dot, inner);
        if (truthy(value)) out += this.nodes(block.body, block.kind === 'with' ? value : dot, inner);
        else out += this.nodes(block.otherwise, dot, inner);
      }
    }
    return out;
  }
}

/** Renders `template` with `data` (one value; the caller adds the newline). */
export function renderGoTemplate(template: string, data: unknown): string {
  return new Execution(data).nodes(parseTemplate(template), data, new Map());
}

/** `table {{.A}}\t{{.B}}`: the template after "table", or undefined for a plain template. */
export function tableTemplate(format: string): string | undefined {
  return /^table(\s|$)/.test(format) ? format.replace(/^table\s*/, '') : undefined;
}

/**
 * Prints rows as Docker's `--format` does: `json` (one JSON object per line), `table TEMPLATE`
 * (a header made by rendering the template with `headers` — Docker's way — then rows, in columns
 * split at tabs), or a plain TEMPLATE (one rendered line per row, no header).
 */
export function renderRows(format: string, rows: unknown[], headers: Record<string, string>): string[] {
  if (format === 'json') return rows.map((row) => JSON.stringify(row));
  const escapes = (text: string) => text.replace(/\\t/g, '\t').replace(/\\n/g, '\n'); // typed in '…' in a shell, as Docker reads them
  const table = tableTemplate(format);
  if (table === undefined) return rows.map((row) => renderGoTemplate(escapes(format), row));
  const template = escapes(table);
  const lines = [renderGoTemplate(template, headers), ...rows.map((row) => renderGoTemplate(template, row))];
  const cells = lines.map((line) => line.split('\t'));
  const widths: number[] = [];
  for (const row of cells) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('').trimEnd());
}
