#!/usr/bin/env node
/**
 * build-startup.mjs — the start-up build: dist/startup/, the same code as dist/, joined into
 * fewer files so that Node starts it faster. Run by `npm run build` after tsc.
 *
 * Why it pays: a `minibox run` starts Node twice (the CLI, then the init stage), and before either
 * makes its first system call Node's ES module loader reads, parses and links every file of its
 * module graph one by one — ~90 files for `run`, ~40 for the init stage. Each file costs a
 * resolution (stat calls up the directory tree), a read, a parse and a link step run through
 * promises. Measured here (docs/benchmarks.md, "The start-up build"): the init stage's graph
 * loads in ~60 ms less wall time and ~20 ms less CPU when joined into one file. The code that
 * runs is the same, function for function: a bundler (rolldown, the one vite uses) only
 * concatenates the modules in dependency order and renames clashing top-level names.
 *
 * What is kept, and how:
 *   - Laziness. `minibox run` still loads only what `run` needs: every `await import(…)` in the
 *     sources becomes its own chunk file (code splitting), loaded when reached.
 *   - Where a module thinks it is. Some modules find files next to themselves through
 *     `import.meta.url` (the seccomp profile JSON, the native programs, `require('koffi')`). Joined
 *     into a chunk, `import.meta.url` would name the chunk instead; the `keepModuleUrls` plugin
 *     below rewrites it to the module's own file under dist/, relative to the chunk, so the build
 *     still works wherever the checkout is moved.
 *   - koffi stays outside: it is a native addon (a .node file), loaded by `require` at run time.
 *   - Reading. Nobody reads dist/startup/: src/ is the text; `MINIBOX_UNBUNDLED=1` runs dist/
 *     module by module (e.g. for stack traces that name src files, or a profiler).
 *
 * bin/minibox and src/runtime/programs.ts use dist/startup/ only when it is at least as new as
 * dist/ (someone who ran `tsc` alone gets the fresh module-by-module build, never stale code).
 *
 * Try: `npm run build && ls dist/startup | wc -l` (about 100 chunks), then
 * `strace -f -e trace=openat ./bin/minibox --version 2>&1 | grep -c dist/` → 1 file (vs ~10).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(repo, 'dist');
const out = path.join(dist, 'startup');

/**
 * The programs Node starts: the CLI and the two stages (src/runtime/programs.ts). Each is built
 * on its own, so a stage is one file with nothing shared with the CLI's chunks (the stages start
 * in a fresh Node each time: one file to read is what they want).
 */
const ENTRIES = {
  'run-cli': path.join(dist, 'cli/run-cli.js'),
  'init-stage': path.join(dist, 'runtime/stages/init-stage.js'),
  'exec-stage': path.join(dist, 'runtime/stages/exec-stage.js'),
};

/** `import.meta.url` in a module under dist/ → that module's own URL, computed from the chunk's. */
const keepModuleUrls = {
  name: 'keep-module-urls',
  transform(code, id) {
    if (!code.includes('import.meta.url')) return null;
    const fromChunk = path.relative(out, id).split(path.sep).join('/');
    return { code: code.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromChunk)}, import.meta.url).href`), map: null };
  },
};

const SPLIT = process.env.SPLIT !== '0';
fs.rmSync(out, { recursive: true, force: true }); // chunk names carry hashes: no stale chunks left
for (const [name, file] of Object.entries(ENTRIES)) {
  const bundle = await rolldown({ input: { [name]: file }, platform: 'node', external: ['koffi'], plugins: [keepModuleUrls], logLevel: 'warn' });
  await bundle.write({
    dir: out, format: 'esm', entryFileNames: '[name].js', chunkFileNames: `${name}.[name]-[hash].js`, codeSplitting: SPLIT,
  });
  await bundle.close();
}
