/**
 * run-cli.ts — the entry point bin/minibox runs: `main`, then its exit code; a reader that closes
 * the pipe early (`minibox ps | head`) ends the output quietly, as Docker's CLI does.
 *
 * Try: `minibox images | head -0; echo $?` → `0` (a closed pipe, EPIPE, is not an error).
 */
import { main } from './main.js';

// `minibox ps | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// No top-level await: scripts/build-startup.mjs joins the CLI into one CommonJS file, which has none.
void main(process.argv).then((code) => { process.exitCode = code; });
