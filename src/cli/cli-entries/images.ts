/**
 * cli-entries/images.ts — the CLI with the image verbs alone (pull, images, rmi, tag, history and
 * the `image` group). bin/minibox starts its joined file (dist/startup/verb-VERB.cjs) for each of
 * them: a warm re-pull, which finds every blob already stored, is mostly start-up, so it should
 * not first read and compile the run, build, API and lifecycle code (scripts/build-startup.mjs).
 *
 * Try: `minibox pull --help | head -1` → `Usage: minibox pull [OPTIONS] IMAGE`
 */
import { runCli } from '../main.js';
import { registerImageCommands } from '../commands/images-command.js';

runCli([{ names: ['pull', 'images', 'rmi', 'tag', 'history', 'image'], load: async () => registerImageCommands }]);
