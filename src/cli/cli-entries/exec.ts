/**
 * cli-entries/exec.ts — the CLI with `exec` alone. bin/minibox starts its joined file
 * (dist/startup/verb-exec.cjs) for `minibox exec`: ~0.3 MB of JavaScript instead of the whole CLI's
 * ~1 MB, so less to read, compile and evaluate before the exec stage is spawned
 * (scripts/build-startup.mjs explains the start-up build; docs/benchmarks.md has the numbers).
 *
 * Try: `minibox exec --help | head -1` → `Usage: minibox exec [OPTIONS] CONTAINER COMMAND [ARG...]`
 * (with MINIBOX_UNBUNDLED=1, the whole CLI module by module, the same).
 */
import { runCli } from '../main.js';
import { registerExecCommand } from '../commands/exec-command.js';

runCli([{ names: ['exec'], load: async () => registerExecCommand }]);
