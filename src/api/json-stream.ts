/**
 * json-stream.ts — a long answer in Docker's JSON-lines protocol, whose head waits for its first line.
 *
 * `docker push` and `docker build` get their answer as a stream of JSON objects, one a line:
 * `{"status":"Pushing","id":"a3ed95caeb02","progressDetail":{…}}`, `{"stream":"Step 1/3 : FROM …\n"}`,
 * `{"aux":{"ID":"sha256:…"}}`. Once the `200` head is out, a failure can only be one more line,
 * `{"errorDetail":{"code":3,"message":"…"},"error":"…"}` — the CLI prints the message and exits
 * with `code` (1 when there is none). Before the first line nothing has been promised yet, so
 * dockerd answers a failure there with a real status (`400 dockerfile parse error…`, `404 An
 * image does not exist locally…`), which the CLI prints as `Error response from daemon: …`.
 * This module does the same: the head goes out with the first line (moby's WriteFlusher and
 * its `Flushed()` test).
 *
 * Try: `curl -s -XPOST --unix-socket /tmp/mb.sock localhost/images/nosuch/push?tag=1`
 * → `{"message":"An image does not exist locally with the tag: nosuch"}` (404, no stream)
 */
import type { ServerResponse } from 'node:http';
import { describeError } from '../errors.js';

export interface JsonLineStream {
  /** Writes one object as a line (the 200 head first, if it is not out yet). */
  send(line: Record<string, unknown>): void;
  /** True once the head is out: a failure must then be a line, not a status. */
  readonly started: boolean;
  /**
   * Ends the answer after a failure: an `errorDetail` line when the stream has started (with
   * the exit code the CLI should use — a failed RUN's — or none: the CLI exits 1); otherwise
   * it rethrows, so the server answers with dockerd's status and `{"message": …}`.
   */
  fail(error: unknown, exitCode?: number): void;
  end(): void;
}

export function jsonLineStream(res: ServerResponse): JsonLineStream {
  let started = false;
  const open = (): void => {
    if (started) return;
    started = true;
    res.writeHead(200, { 'Content-Type': 'application/json' });
  };
  return {
    get started() { return started; },
    send(line) {
      open();
      if (!res.destroyed) res.write(`${JSON.stringify(line)}\n`);
    },
    fail(error, exitCode) {
      if (!started) throw error;
      const message = describeError(error).replace(/^minibox: /, '');
      const detail = { ...(exitCode !== undefined ? { code: exitCode } : {}), message };
      if (!res.destroyed) res.write(`${JSON.stringify({ errorDetail: detail, error: message })}\n`);
      res.end();
    },
    end() {
      open();
      res.end();
    },
  };
}
