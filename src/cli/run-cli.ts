/** Entry point used by bin/minibox. */
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
