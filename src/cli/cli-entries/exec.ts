/**
 * cli-entries/exec.ts — the CLI with `exec` alone. bin/minibox starts its joined file
 * (dist/startup/cli/exec.cjs) for `minibox exec`: ~0.4 MB of JavaScript instead of the whole CLI's
 * ~1.2 MB, so less to read, compile and evaluate before the exec stage is spawned
 * (scripts/build-startup.mjs explains the start-up build; docs/benchmarks.md has the numbers).
 *
 * Try: `MINIBOX_UNBUNDLED=1 minibox exec --help | head -1` and `minibox exec --help | head -1` →
 * the same line (the full CLI, and this entry's file).
 */
import { runCli } from '../main.js';
import { registerExecCommand } from '../commands/exec-command.js';

runCli([{ names: ['exec'], load: async () => registerExecCommand }]);
