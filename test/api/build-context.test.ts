/**
 * The API's build context (src/api/build-context.ts): the request body becomes a private directory
 * under <root>/tmp — a tar the way CLI 28 sends it (its last entry without padding or end blocks)
 * is read whole, gzip too; a body that is not a tar, a tar entry that climbs out, a Dockerfile
 * outside the context are refused with 400 and leave nothing behind; and garbage collection
 * never takes a live build's context (image/store/temp-files.ts names its pid).
 *
 * Hostile: on main, src/api/build-context.ts does not exist; the truncated-tar case failed
 * ("Unexpected end of data") before completeTar, and the abandonment case listed the live
 * context before `build-context` was added to temp-files.ts's owners (both checked by undoing them).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/api-errors.js';
import { receiveBuildContext } from '../../src/api/build-context.js';
import { abandonedTemps } from '../../src/image/store/temp-files.js';
import { StateRoot } from '../../src/state-root.js';

const roots: string[] = [];
afterEach(() => { for (const dir of roots.splice(0)) fs.rmSync(dir, { recursive: true, force: true }); });

function newRoot(): StateRoot {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-buildctx-'));
  roots.push(dir);
  return new StateRoot(dir);
}

async function tarOf(entries: { name: string; text: string }[]): Promise<Buffer> {
  const archive = pack();
  for (const entry of entries) archive.entry({ name: entry.name, mode: 0o644 }, entry.text);
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The body as a request (only its bytes are read; `resume` drains the rest). */
function request(body: Buffer): IncomingMessage {
  return Readable.from([body.subarray(0, 100), body.subarray(100)].filter((part) => part.length > 0)) as unknown as IncomingMessage;
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('receiveBuildContext', () => {
  it('reads a tar whose last entry has no padding and no end blocks (as CLI 28 sends -f outside the context)', async () => {
    const root = newRoot();
    const whole = await tarOf([{ name: 'Dockerfile', text: 'FROM busybox\n' }, { name: '.dockerignore', text: 'secret\n' }]);
    // Dockerfile's header and padded data (1024 bytes), .dockerignore's header, then its 7 bytes: no more.
    const cut = whole.subarray(0, 1024 + 512 + 'secret\n'.length);
    const context = await receiveBuildContext(root, request(cut), 'Dockerfile');
    expect(fs.readFileSync(context.dockerfile, 'utf8')).toBe('FROM busybox\n');
    expect(fs.readFileSync(path.join(context.dir, '.dockerignore'), 'utf8')).toBe('secret\n');
    expect(fs.statSync(context.dir).mtimeMs).toBe(0); // a fixed time: COPY . keys on the files only
    context.remove();
    expect(fs.readdirSync(root.tmp)).toEqual([]);
  });

  it('reads a gzip\'d context (--compress)', async () => {
    const root = newRoot();
    const body = zlib.gzipSync(await tarOf([{ name: 'sub/Dockerfile.prod', text: 'FROM scratch\n' }]));
    const context = await receiveBuildContext(root, request(body), 'sub/Dockerfile.prod');
    expect(fs.readFileSync(context.dockerfile, 'utf8')).toBe('FROM scratch\n');
    context.remove();
  });

  it('refuses a body that is not a tar, a missing Dockerfile and one outside the context, leaving nothing', async () => {
    const root = newRoot();
    const text = Buffer.from('FROM busybox\nRUN echo a Dockerfile sent as the body\n'.repeat(20));
    expect((await refusal(receiveBuildContext(root, request(text), 'Dockerfile'))).message).toMatch(/^the build context is not a tar archive: /);
    const tar = await tarOf([{ name: 'Dockerfile', text: 'FROM busybox\n' }]);
    const missing = await refusal(receiveBuildContext(root, request(tar), 'Dockerfile.other'));
    expect([missing.status, missing.message]).toEqual([400, 'Cannot locate specified Dockerfile: Dockerfile.other']);
    const outside = await refusal(receiveBuildContext(root, request(tar), '../../etc/passwd'));
    expect(outside.message).toBe('the Dockerfile (../../etc/passwd) must be within the build context');
    expect(fs.readdirSync(root.tmp)).toEqual([]);
  });

  it('keeps a tar entry that climbs out (../) inside the context, or refuses it', async () => {
    const root = newRoot();
    const body = await tarOf([{ name: 'Dockerfile', text: 'FROM busybox\n' }, { name: '../../escaped-by-build-context', text: 'x' }]);
    const outcome = await receiveBuildContext(root, request(body), 'Dockerfile').then((context) => { context.remove(); return 'unpacked'; }, (error: unknown) => error);
    if (outcome !== 'unpacked') expect((outcome as ApiError).status).toBe(400);
    expect(fs.existsSync(path.join(root.dir, 'escaped-by-build-context'))).toBe(false);
    expect(fs.existsSync(path.join(root.dir, '..', 'escaped-by-build-context'))).toBe(false);
    expect(fs.readdirSync(root.tmp)).toEqual([]);
  });

  it('a live build\'s context is not abandoned; a dead process\'s is', async () => {
    const root = newRoot();
    fs.mkdirSync(path.join(root.tmp, `build-context-${process.pid}-live`), { recursive: true });
    fs.mkdirSync(path.join(root.tmp, 'build-context-999999999-dead'));
    expect((await abandonedTemps(root)).map((file) => path.basename(file))).toEqual(['build-context-999999999-dead']);
  });
});
