/**
 * go-template-parse.ts — reading a Go text/template (the language of `docker … --format`) into a
 * tree: text, `{{pipeline}}` actions, and the blocks `if`/`else if`/`else`, `range`, `with`,
 * closed by `end`. A pipeline is commands joined by `|`, each command a function name or a
 * value followed by arguments: `{{json .Config}}`, `{{.Name | upper}}`, `{{index .Labels "a"}}`,
 * `{{range $name, $net := .NetworkSettings.Networks}}`. `{{-` and `-}}` trim the white space
 * beside them, `{{/* … *\/}}` is a comment — all as Go's text/template/parse does.
 *
 * Why not an npm package: the maintained ones (e.g. @ctrl/golang-template) cover `if`/`range`
 * but not pipelines, functions such as `json`/`printf`/`eq`, variables, or Go's error on a
 * missing field — the parts Docker users type. Execution is in go-template.ts.
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox inspect --format '{{range
 * .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' web` → `172.…0.2` (the
 * first address of this state root's bridge subnet: 172.29.0.0/16 for the first root on a host).
 */
import { MiniboxError } from '../errors.js';

/** A value in a command: `.A.B`, `$x.A`, a literal, a function name, or `( pipeline )`. */
export type Operand =
  | { kind: 'field'; base: 'dot' | string; path: string[]; text: string }
  | { kind: 'literal'; value: unknown }
  | { kind: 'function'; name: string }
  | { kind: 'pipeline'; pipeline: Pipeline };

export interface Command { operands: Operand[]; at: number }
export interface Pipeline { declare: string[]; commands: Command[] }

export type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipeline: Pipeline }
  | { kind: 'if' | 'with' | 'range'; pipeline: Pipeline; body: Node[]; otherwise: Node[] };

/** A template error with Go's shape ("template: :1:5: …"); `docker … --format` exits 1 on it. */
export class TemplateError extends MiniboxError {
  constructor(message: string) {
    super(`template: ${message}`, 1);
    this.name = 'TemplateError';
  }
}

interface Action { text: string; at: number }
type Piece = { text: string } | { action: Action };

/** Splits the source into text and `{{…}}` actions, applying the `{{-`/`-}}` trim markers. */
function split(source: string): Piece[] {
  const pieces: Piece[] = [];
  let at = 0;
  let trimNext = false;
  while (at < source.length) {
    const open = source.indexOf('{{', at);
    let text = source.slice(at, open === -1 ? source.length : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open === -1) { pieces.push({ text }); break; }
    const close = source.indexOf('}}', open + 2);
    if (close === -1) throw new TemplateError(`:1:${open + 1}: unclosed action`);
    let inner = source.slice(open + 2, close);
    if (/^-\s/.test(inner)) { text = text.replace(/\s+$/, ''); inner = inner.slice(1); }
    trimNext = /\s-$/.test(inner);
    if (trimNext) inner = inner.slice(0, -1);
    if (text) pieces.push({ text });
    if (!/^\s*\/\*[\s\S]*\*\/\s*$/.test(inner)) pieces.push({ action: { text: inner.trim(), at: open + 3 } });
    at = close + 2;
  }
  return pieces;
}

const TOKEN = /\s*(?:("(?:[^"\\]|\\.)*"|`[^`]*`)|(\|)|(\()|(\))|(:=|=)|(,)|([^\s|(),]+))/y;

/** Words of an action: strings, `|`, parentheses, `:=`, commas and bare words. */
function tokenize(text: string, at: number): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const match = TOKEN.exec(text);
    if (!match) {
      if (text.slice(TOKEN.lastIndex).trim() === '') break;
      throw new TemplateError(`:1:${at + TOKEN.lastIndex}: unexpected "${text.slice(TOKEN.lastIndex).trim()}" in command`);
    }
    tokens.push(match.slice(1).find((group) => group !== undefined)!);
  }
  return tokens;
}

function operand(token: string, at: number): Operand {
  if (token.startsWith('"')) return { kind: 'literal', value: JSON.parse(token) as string };
  if (token.startsWith('`')) return { kind: 'literal', value: token.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(token)) return { kind: 'literal', value: Number(token) };
  if (token === 'true' || token === 'false') return { kind: 'literal', value: token === 'true' };
  if (token === 'nil') return { kind: 'literal', value: null };
  if (token === '.') return { kind: 'field', base: 'dot', path: [], text: '.' };
  const field = /^(\$[A-Za-z0-9_]*)?((?:\.[A-Za-z0-9_]+)*)$/.exec(token);
  if (field && (field[1] || field[2])) {
    return { kind: 'field', base: field[1] ?? 'dot', path: field[2] ? field[2].slice(1).split('.') : [], text: token };
  }
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(token)) return { kind: 'function', name: token };
  throw new TemplateError(`:1:${at}: bad character or word "${token}"`);
}

/** Reads a pipeline from tokens[from…] up to a `)` (nested) or the end. */
function pipeline(tokens: string[], at: number, nested = false): { pipeline: Pipeline; next: number } {
  let i = 0;
  const declare: string[] = [];
  const assign = tokens.findIndex((token) => token === ':=' || token === '=');
  if (assign > 0 && tokens.slice(0, assign).every((token) => token === ',' || /^\$[A-Za-z0-9_]+$/.test(token))) {
    declare.push(...tokens.slice(0, assign).filter((token) => token !== ','));
    i = assign + 1;
  }
  const commands: Command[] = [];
  let current: Operand[] = [];
  for (; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === ')') {
      if (!nested) throw new TemplateError(`:1:${at}: unexpected right paren`);
      break;
    }
    if (token === '|') {
      if (current.length === 0) throw new TemplateError(`:1:${at}: missing command before |`);
      commands.push({ operands: current, at });
      current = [];
    } else if (token === '(') {
      const inner = pipeline(tokens.slice(i + 1), at, true);
      current.push({ kind: 'pipeline', pipeline: inner.pipeline });
      i += inner.next + 1;
    } else {
      current.push(operand(token, at));
    }
  }
  if (current.length === 0) throw new TemplateError(`:1:${at}: missing value for command`);
  commands.push({ operands: current, at });
  return { pipeline: { declare, commands }, next: i };
}

/** Parses a whole template into its tree. */
export function parseTemplate(source: string): Node[] {
  const pieces = split(source);
  let index = 0;
  const block = (inside: string | undefined): { nodes: Node[]; ended: 'end' | 'else' | undefined; elseIf?: Action } => {
    const nodes: Node[] = [];
    while (index < pieces.length) {
      const piece = pieces[index++]!;
      if ('text' in piece) { nodes.push({ kind: 'text', text: piece.text }); continue; }
      const { text, at } = piece.action;
      const word = text.split(/\s+/, 1)[0]!;
      if (word === 'end' || word === 'else') {
        if (!inside) throw new TemplateError(`:1:${at}: unexpected {{${word}}}`);
        const rest = text.slice(word.length).trim();
        return word === 'else' && rest.startsWith('if ') ? { nodes, ended: 'else', elseIf: { text: rest, at } } : { nodes, ended: word };
      }
      if (word === 'if' || word === 'with' || word === 'range') nodes.push(controlNode(word, { text: text.slice(word.length), at }));
      else nodes.push({ kind: 'action', pipeline: pipeline(tokenize(text, at), at).pipeline });
    }
    if (inside) throw new TemplateError(`:1: unexpected EOF: {{${inside}}} has no {{end}}`);
    return { nodes, ended: undefined };
  };
  const controlNode = (kind: 'if' | 'with' | 'range', action: Action): Node => {
    const parsed = pipeline(tokenize(action.text.trim(), action.at), action.at).pipeline;
    const body = block(kind);
    let otherwise: Node[] = [];
    if (body.elseIf) otherwise = [controlNode('if', { text: body.elseIf.text.slice(2), at: body.elseIf.at })];
    else if (body.ended === 'else') {
      const rest = block(kind);
      if (rest.ended !== 'end') throw new TemplateError(`:1:${action.at}: expected {{end}} after {{else}}`);
      otherwise = rest.nodes;
    }
    return { kind, pipeline: parsed, body: body.nodes, otherwise };
  };
  return block(undefined).nodes;
}
