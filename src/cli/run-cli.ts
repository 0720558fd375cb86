/**
 * run-cli.ts — the entry point bin/minibox runs: every command (command-modules.ts), through
 * `runCli` (main.ts). The start-up build also joins smaller entries for the verbs that must start
 * fastest (cli-entries/); they behave the same, with fewer modules to load.
 *
 * Try: `minibox images | head -0; echo $?` → `0` (a closed pipe, EPIPE, is not an error).
 */
import { runCli } from './main.js';
import { COMMAND_MODULES } from './command-modules.js';

runCli(COMMAND_MODULES);
