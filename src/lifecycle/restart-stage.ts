/**
 * restart-stage.ts — the program minibox-monitor becomes (execv, same pid) when a container's
 * restart policy says "start it again": `node restart-stage.js ROOT ID PATH BACKOFF_MS INIT_PID`.
 * The monitor has already slept the back-off; restart.ts's restartAfterExit does the rest under
 * the container's lock. It runs on the host, in its own session, with no terminal: errors go to
 * the container's record (State.Error), where `inspect` shows them.
 *
 * Try: `minibox run -d --name rs --restart on-failure:1 busybox false >/dev/null; until minibox ps -a
 * --format '{{.Status}}' | grep -q '^Exited'; do sleep 0.2; done; minibox inspect -f
 * '{{.RestartCount}}' rs` → `1`
 */
import { StateRoot } from '../state-root.js';
import { restartAfterExit } from './restart.js';

const [rootDir, id, searchPath, backoff, initPid] = process.argv.slice(2);
if (!rootDir || !id || !searchPath || backoff === undefined || initPid === undefined) {
  process.stderr.write('usage: restart-stage.js ROOT ID PATH BACKOFF_MS INIT_PID (started by minibox-monitor)\n');
  process.exit(125);
}
process.env.PATH = searchPath; // the monitor's environment is empty; plugging in a network runs iptables
restartAfterExit(new StateRoot(rootDir), id, Number(backoff), Number(initPid))
  .then(() => process.exit(0))
  .catch(() => process.exit(125)); // startLocked already recorded the failure in the record
