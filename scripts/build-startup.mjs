#!/usr/bin/env node
/**
 * build-startup.mjs — the start-up build: dist/startup/, the same code as dist/, joined into
 * fewer files so that Node starts it faster. Run by `npm run build` after tsc.
 *
 * Why it pays: a `minibox run` starts Node twice (the CLI, then the init stage), and before either
 * makes its first system call Node's ES module loader finds, reads, parses and links every file of
 * its module graph one by one — ~90 files for `run`, ~40 for the init stage — each through a
 * chain of promises. A bundler (rolldown, the one vite uses) joins a program's modules into one
 * file in dependency order (renaming clashing top-level names; the code that runs is the same,
 * function for function). The file is written as CommonJS: Node's `require` compiles one
 * CommonJS file synchronously, without the ES loader's resolve/link/evaluate jobs, which measured
 * cheaper here than the same single file as an ES module. Numbers: docs/benchmarks.md ("The
 * start-up build").

 * What is kept, and how:
 *   - Laziness. `main.ts` imports a command's module only when that command runs, and
 *     `image-source.ts` the registry client only when a pull happens. In the joined file those
 *     modules are still *evaluated* only when first imported (rolldown wraps each lazily imported
 *     module in an init function); they are only read and pre-parsed with the rest, which V8 does
 *     at ~1 ms per 100 KB. One file per program measured faster than ~40 chunks (one per lazy
 *     import): a file costs more to find and link than to pre-parse.
 *   - Where a module thinks it is. Some modules find files next to themselves through
 *     `import.meta.url` (the seccomp profile JSON, the native programs, `require('koffi')`). In a
 *     joined file it would name that file instead (and CommonJS has no `import.meta`); the
 *     `keepModuleUrls` plugin below rewrites it to the module's own file under dist/, relative to
 *     the joined file, so the build still works wherever the checkout is moved.
 *   - koffi stays outside: it is a native addon (a .node file), loaded by `require` at run time.
 *   - Reading. Nobody reads dist/startup/: src/ is the text; `MINIBOX_UNBUNDLED=1` runs dist/
 *     module by module (e.g. for stack traces that name src files, or a profiler).
 *
 * bin/minibox and src/runtime/programs.ts use dist/startup/ only when it is at least as new as
 * dist/ (someone who ran `tsc` alone gets the fresh module-by-module build, never stale code).
 *
 * Try: `npm run build && ls dist/startup` (run-cli.cjs, init-stage.cjs, verb-VERB.cjs for the fast verbs), then
 * `strace -f -e trace=openat ./bin/minibox ps 2>&1 | grep -c dist/` → 1 (with MINIBOX_UNBUNDLED=1: ~100).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(repo, 'dist');
const out = path.join(dist, 'startup');

/** The programs Node starts: the CLI, the init stage (src/runtime/programs.ts) and the unpack worker. */
const ENTRIES = {
  'run-cli': path.join(dist, 'cli/run-cli.js'),
  'init-stage': path.join(dist, 'runtime/stages/init-stage.js'),
  'entry-exec': path.join(dist, 'cli/cli-entries/exec.js'),
  'entry-run': path.join(dist, 'cli/cli-entries/run.js'),
  'entry-container': path.join(dist, 'cli/cli-entries/container.js'),
  'entry-images': path.join(dist, 'cli/cli-entries/images.js'),
  // A pull's layer-unpacking thread (src/image/unpack/unpack-thread.ts): one file to load.
  'unpack-worker': path.join(dist, 'image/unpack/unpack-worker.js'),
};

/**
 * The verbs that start from a smaller CLI (src/cli/cli-entries/): bin/minibox looks for
 * dist/startup/verb-VERB.cjs, so each verb gets its entry's file under its own name (a hard link;
 * in the same directory, as `keepModuleUrls` computes paths from there).
 * Every other verb runs the whole CLI, run-cli.cjs. Why it pays: the whole CLI is ~1.2 MB of
 * JavaScript and requires every Node builtin any command uses (http, zlib, readline…) at its
 * top, since a joined file hoists them; `exec`'s is ~0.4 MB. Node reads, compiles (or checks the
 * code cache of) and evaluates all of it before the first line of the command runs.
 */
const VERBS = {
  'entry-exec': ['exec'],
  'entry-run': ['run', 'create'],
  'entry-container': ['ps', 'logs', 'start', 'stop', 'restart', 'kill', 'pause', 'unpause', 'wait', 'rename', 'rm', 'inspect'],
  'entry-images': ['pull', 'images', 'rmi', 'tag', 'history', 'image'],
};

/**
 * `import.meta.url` in a module under dist/ → that module's own URL, computed from the joined
 * file's (`__startupFileUrl`, set by the banner below: a CommonJS file knows its own __filename).
 */
const keepModuleUrls = {
  name: 'keep-module-urls',
  transform(code, id) {
    if (!code.includes('import.meta.url')) return null;
    const fromOutput = path.relative(out, id).split(path.sep).join('/');
    return { code: code.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromOutput)}, __startupFileUrl).href`), map: null };
  },
};

/**
 * Builtins loaded on first use, not at the top of the joined file.
 *
 * A joined file starts with one `require("node:…")` per builtin that *any* of its modules imports:
 * an ES `import` is hoisted, and rolldown keeps that order. Node compiles and runs each builtin
 * (and what it requires in turn) right there, before minibox's first line: measured one at a time
 * in a script (`t = process.hrtime.bigint(); require('node:crypto'); …`), crypto costs ~6 ms,
 * child_process ~5, http ~6, https ~10, tty ~4 (it pulls in net and stream), zlib ~2 ms.
 * `minibox ps` needs none of them before it prints, yet paid for them all (docs/benchmarks.md).
 *
 * So each such line becomes `let node_tty = __lazyBuiltin("node:tty", …)`: a Proxy, an object
 * whose property reads go through a function we choose (`get`). The first read of any property
 * requires the real module, and every read returns that module's property. The bundled code only
 * ever reads properties of these bindings (`node_tty.default.isatty`, `(0, node_net.connect)(…)`;
 * checked below, the build fails otherwise), so it cannot tell the difference. `default` answers
 * the module itself, as rolldown's `__toESM(mod, 1)` does for `import tty from "node:tty"`.
 * The same goes for a bundled CommonJS package's own `const x = require("node:…")` line, run
 * when the package loads: commander's, for one, requires child_process for the rare external
 * subcommand, which minibox has none of.
 * Not made lazy: the builtins Node has loaded before the joined file runs (bin/minibox requires
 * fs, path, url and module; Node's own start-up events) — for them a Proxy would only add a step.
 */
const LOADED_ANYWAY = new Set(['node:fs', 'node:path', 'node:url', 'node:module', 'node:events', 'node:process']);
const LAZY_BUILTIN_RUNTIME = [
  '/** A builtin required on its first property read (scripts/build-startup.mjs: lazyBuiltins). */',
  'const __lazyBuiltin = (id, asDefault) => {',
  '\tlet loaded;',
  '\treturn new Proxy({}, { get: (_, key) => (loaded ??= require(id), asDefault && key === "default" ? loaded : loaded[key]) });',
  '};',
].join('\n');

/** Fails the build if `binding` appears other than where it is declared or a property is read. */
function checkOnlyPropertyReads(code, binding) {
  const name = binding.replaceAll('$', '\\$');
  const misuse = new RegExp(`(?<![\\w$.])${name}(?![\\w$]|\\.|\\s*=\\s*__lazyBuiltin)`).exec(code);
  if (misuse) {
    throw new Error(`lazy-builtins: ${binding} is used other than by reading a property: …${code.slice(misuse.index - 60, misuse.index + 60)}…`);
  }
}

const lazyBuiltins = {
  name: 'lazy-builtins',
  renderChunk(code) {
    const lazy = [];
    const makeLazy = (line, indent, keyword, binding, id, asDefault) => {
      if (LOADED_ANYWAY.has(id)) return line;
      lazy.push(binding);
      return `${indent}${keyword} ${binding} = __lazyBuiltin(${JSON.stringify(id)}, ${asDefault});\n`;
    };
    const rewritten = code
      // The hoisted imports, at the top: `let node_net = require("node:net");` (+ `__toESM` line).
      .replace(/^let ([\w$]+) = require\("(node:[\w/]+)"\);\n(\1 = __toESM\(\1, 1\);\n)?/gm,
        (line, binding, id, wrapped) => makeLazy(line, '', 'let', binding, id, Boolean(wrapped)))
      // Inside a bundled CommonJS package: `\tconst childProcess = require("node:child_process");`.
      .replace(/^(\s+)const ([\w$]+) = require\("(node:[\w/]+)"\);\n/gm,
        (line, indent, binding, id) => makeLazy(line, indent, 'const', binding, id, false));
    for (const binding of lazy) checkOnlyPropertyReads(rewritten, binding);
    // A builtin still bound eagerly means rolldown's output changed shape: update the patterns above.
    for (const [, id] of rewritten.matchAll(/^\s*(?:let|var|const) [\w$]+ = require\("(node:[\w/]+)"\)/gm)) {
      if (!LOADED_ANYWAY.has(id)) throw new Error(`lazy-builtins: ${id} is still required eagerly`);
    }
    return { code: `${LAZY_BUILTIN_RUNTIME}\n${rewritten}`, map: null };
  },
};

/**
 * The joined files without comments, and in ASCII. Every run reads the whole file into a string
 * before V8 looks at the code cache: src/'s comments (module headers, JSDoc) are about a third of
 * the bytes, and one non-ASCII character (an arrow, a dash in a comment) makes the whole file a
 * two-byte string, decoded from UTF-8 character by character — an ASCII file is copied as it is.
 * `charset: 'ascii'` writes `→` in a string as `\u2192`: the same string at run time. Licence
 * comments of the bundled packages stay.
 */
const COMPACT_OUTPUT = { comments: { legal: true, annotation: false, jsdoc: false }, charset: 'ascii' };

fs.rmSync(out, { recursive: true, force: true });
for (const [name, file] of Object.entries(ENTRIES)) {
  const bundle = await rolldown({
    input: { [name]: file }, platform: 'node', external: ['koffi'], plugins: [keepModuleUrls, lazyBuiltins], logLevel: 'warn',
  });
  await bundle.write({
    dir: out,
    format: 'cjs', // see the header: CommonJS skips the ES module loader's per-module machinery
    banner: 'const __startupFileUrl = require("node:url").pathToFileURL(__filename).href;',
    entryFileNames: '[name].cjs',
    codeSplitting: false, // every `await import()` joins the same file (see the header)
    ...COMPACT_OUTPUT,
  });
  await bundle.close();
}
for (const [entry, verbs] of Object.entries(VERBS)) {
  for (const verb of verbs) fs.linkSync(path.join(out, `${entry}.cjs`), path.join(out, `verb-${verb}.cjs`));
  fs.rmSync(path.join(out, `${entry}.cjs`));
}
