/**
 * cli-entries/run.ts — the CLI with `run` and `create` alone. bin/minibox starts its joined file
 * (dist/startup/verb-run.cjs, also verb-create.cjs) for those verbs: no registry client, unpacker,
 * build or API code to read and compile first (scripts/build-startup.mjs).
 *
 * Try: `minibox run --help | head -1` → `Usage: minibox run [OPTIONS] IMAGE [COMMAND] [ARG...]`
 */
import { runCli } from '../main.js';
import { registerRunCommands } from '../commands/run-command.js';

runCli([{ names: ['run', 'create'], load: async () => registerRunCommands }]);
