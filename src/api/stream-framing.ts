/**
 * stream-framing.ts — how stdout and stderr share one connection: Docker's multiplexed stream.
 *
 * Without a terminal a container has two output streams, but an attach (or `logs`) answer is one
 * byte stream. Docker frames it (moby's stdcopy): every chunk is preceded by an 8-byte header
 *
 *   [ stream: 1 = stdout, 2 = stderr ][ 0 0 0 ][ length: uint32, big-endian ] then length bytes
 *
 * and the CLI's demultiplexer writes each payload to its own stdout or stderr. The answer's
 * Content-Type says so: `application/vnd.docker.multiplexed-stream`. With a terminal (`-t`)
 * there is only one stream, sent raw (`application/vnd.docker.raw-stream`).
 *
 * Try: `curl -s --unix-socket /run/minibox.sock 'localhost/containers/web/logs?stdout=1' | od -c | head -2`
 * → `\001  \0  \0  \0  \0  \0  \0  …` (stream 1, then the length)
 */

export const MULTIPLEXED = 'application/vnd.docker.multiplexed-stream';
export const RAW_STREAM = 'application/vnd.docker.raw-stream';

export type StreamName = 'stdin' | 'stdout' | 'stderr';
const STREAM_NUMBER: Record<StreamName, number> = { stdin: 0, stdout: 1, stderr: 2 };

/** One frame: the 8-byte header, then the payload. */
export function frame(stream: StreamName, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const header = Buffer.alloc(8);
  header[0] = STREAM_NUMBER[stream];
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** Reads frames back (for tests and a student's curiosity); a torn last frame stays in `rest`. */
export function unframe(data: Buffer): { frames: { stream: StreamName; payload: Buffer }[]; rest: Buffer } {
  const frames: { stream: StreamName; payload: Buffer }[] = [];
  let at = 0;
  while (at + 8 <= data.length) {
    const length = data.readUInt32BE(at + 4);
    if (at + 8 + length > data.length) break;
    const stream = (['stdin', 'stdout', 'stderr'] as const)[data[at]!] ?? 'stdout';
    frames.push({ stream, payload: data.subarray(at + 8, at + 8 + length) });
    at += 8 + length;
  }
  return { frames, rest: data.subarray(at) };
}
