/**
 * substitute.ts — `${VAR}` in a Dockerfile: which instructions expand variables, and how.
 *
 * The builder, not a shell, replaces variables in ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER
 * VOLUME WORKDIR (and ONBUILD's triggers when they run). RUN, CMD and ENTRYPOINT are left alone:
 * in shell form the container's shell expands them when the program runs, with the image's Env —
 * which is why `ENV A=1` then `RUN echo $A` works, and why an exec-form `CMD ["echo", "$A"]`
 * prints `$A`. The forms (Docker's "Environment replacement"):
 *   $VAR, ${VAR}        the value, or nothing
 *   ${VAR:-word}        the value, or `word` if VAR is unset or empty
 *   ${VAR:+word}        `word` if VAR is set and not empty, else nothing
 *   \$VAR               a literal `$VAR` (the escape character escapes `$`)
 * Values come from ENV of the stage so far and from ARGs (declared, with `--build-arg` values);
 * ENV wins over ARG of the same name.
 *
 * Try: `printf 'ARG V=1\nFROM busybox\nARG V\nLABEL v=${V:-none}\n' > Dockerfile && minibox build
 * -t s . >/dev/null && minibox inspect s | grep '"v"'` → `"v": "1"`
 */
export const EXPANDING = new Set(['ADD', 'COPY', 'ENV', 'EXPOSE', 'FROM', 'LABEL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR', 'ONBUILD']);

export function substitute(text: string, variables: ReadonlyMap<string, string>, escape = '\\'): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === escape && text[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    if (char !== '$') {
      out += char;
      continue;
    }
    if (text[i + 1] === '{') {
      const end = text.indexOf('}', i + 2);
      if (end < 0) {
        out += text.slice(i);
        break;
      }
      out += expandBraced(text.slice(i + 2, end), variables);
      i = end;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0];
    if (name === undefined) {
      out += char;
      continue;
    }
    out += variables.get(name) ?? '';
    i += name.length;
  }
  return out;
}

function expandBraced(inner: string, variables: ReadonlyMap<string, string>): string {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])(.*))?$/s.exec(inner);
  if (!match) return '';
  const value = variables.get(match[1]!);
  if (match[2] === '-') return value === undefined || value === '' ? match[3]! : value;
  if (match[2] === '+') return value === undefined || value === '' ? '' : match[3]!;
  return value ?? '';
}

/** Splits `A=1 B="two words"` (ENV, LABEL, ARG) into pairs; the old `ENV A value` form too. */
export function keyValuePairs(args: string): [string, string][] {
  const words = args.match(/(?:[^\s"']+|"(?:\\.|[^"\\])*"|'[^']*')+/g) ?? [];
  if (words.length > 0 && !words[0]!.includes('=')) {
    return [[words[0]!, args.slice(args.indexOf(words[0]!) + words[0]!.length).trim()]];
  }
  return words.map((word) => {
    const equals = word.indexOf('=');
    const key = equals < 0 ? word : word.slice(0, equals);
    const raw = equals < 0 ? '' : word.slice(equals + 1);
    return [unquote(key), unquote(raw)];
  });
}

function unquote(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (char === '"' || char === "'") {
      const end = value.indexOf(char, i + 1);
      if (end < 0) { out += value.slice(i + 1); break; }
      out += char === '"' ? value.slice(i + 1, end).replace(/\\(["\\$])/g, '$1') : value.slice(i + 1, end);
      i = end;
    } else if (char === '\\' && i + 1 < value.length) {
      out += value[++i];
    } else {
      out += char;
    }
  }
  return out;
}
