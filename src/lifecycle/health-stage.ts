/**
 * health-stage.ts — the program minibox-monitor forks and execs each healthcheck interval
 * (native/monitor-health.c): `node health-stage.js ROOT ID PATH`. It runs one probe and records the
 * verdict (health.ts), then exits; the monitor starts the next one an interval later.
 *
 * Try: `minibox run -d --name hs --health-cmd true --health-interval 1s busybox sleep 100 >/dev/null;
 * until minibox ps --format '{{.Status}}' | grep -q '(healthy)'; do sleep 0.2; done; minibox
 * inspect --format '{{json .State.Health}}' hs` → `{"Status":"healthy","FailingStreak":0,`
 */
import { StateRoot } from '../state-root.js';
import { runHealthProbe } from './health.js';

const [rootDir, id, searchPath] = process.argv.slice(2);
if (!rootDir || !id || !searchPath) {
  process.stderr.write('usage: health-stage.js ROOT ID PATH (started by minibox-monitor)\n');
  process.exit(125);
}
process.env.PATH = searchPath; // the monitor's environment is empty
runHealthProbe(new StateRoot(rootDir), id)
  .then(() => process.exit(0))
  .catch(() => process.exit(1)); // nothing to tell: the next probe tries again
