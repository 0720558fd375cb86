/**
 * build-route.ts — `docker build`: `POST /build` with the context tar as the body, answered by
 * minibox's builder (build/builder.ts) — the classic builder's protocol, not BuildKit's.
 *
 * `/_ping` says `Builder-Version: 1`, so the CLI uses the classic ("legacy") protocol: one POST
 * whose query holds the flags — `t` (-t, repeated), `dockerfile` (-f, a path inside the
 * context), `buildargs` (--build-arg, a JSON map), `target`, `nocache`, `pull`, `q`, `labels`,
 * `networkmode` — and whose answer is dockerd's JSON-lines stream (json-stream.ts):
 *   {"stream":"Step 2/3 : RUN make\n"}      the builder's lines, and RUN's own output as it comes
 *   {"aux":{"ID":"sha256:…"}}               the image, for `--iidfile`
 *   {"errorDetail":{"code":3,"message":"The command '/bin/sh -c exit 3' returned a non-zero
 *    code: 3"},"error":"…"}                 a failed step: the CLI prints it and exits 3
 * A body that is not a tar, a Dockerfile that is missing or does not parse, are refused with 400
 * before the stream starts (`Error response from daemon: …`, exit 1), as dockerd refuses them.
 * A client that goes away (Ctrl-C) cancels the build: its RUN container is killed, and the
 * builder stops before the next step and cleans up as after any failure.
 *
 * docker CLI 28 without the buildx plugin falls back to this protocol by itself, printing that
 * the legacy builder is deprecated; `DOCKER_BUILDKIT=0` makes it do so without the notice (the
 * 20.10 CLI follows `Builder-Version` and says nothing). BuildKit's `/session` is refused (501).
 *
 * Try: `DOCKER_BUILDKIT=0 docker -H unix:///tmp/mb.sock build -t hi .` → `Step 1/2 : FROM busybox`
 */
import type { ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import { describeError, MiniboxError } from '../errors.js';
import { RunStepError } from '../build/build-container.js';
import { buildImage, type BuildRequest } from '../build/builder.js';
import { DockerfileError } from '../build/dockerfile.js';
import { ApiError, notImplemented } from './api-errors.js';
import { receiveBuildContext } from './build-context.js';
import { jsonLineStream, type JsonLineStream } from './json-stream.js';
import { queryFlag, type ApiRequest } from './request.js';

/** A JSON map parameter (`buildargs`, `labels`); null values (`--build-arg NAME` unset) are left out. */
function jsonMap(query: URLSearchParams, name: string): Record<string, string> {
  const text = query.get(name);
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(400, `invalid ${name}: expected a JSON object, got ${text}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ApiError(400, `invalid ${name}: expected a JSON object`);
  return Object.fromEntries(Object.entries(parsed).filter(([, value]) => value !== null).map(([key, value]) => [key, String(value)]));
}

/** The flags of the request, checked before the context is read. */
function buildFlags(query: URLSearchParams): Omit<BuildRequest, 'context' | 'dockerfile'> {
  if (query.get('remote')) throw notImplemented('a remote build context (a URL or git repository; send the context as a tar)');
  if (query.get('version') === '2') throw notImplemented('BuildKit (build with the classic builder: DOCKER_BUILDKIT=0)');
  if (query.get('platform')) throw new ApiError(400, 'build --platform is not supported by minibox: use FROM --platform=… in the Dockerfile');
  const network = query.get('networkmode');
  const target = query.get('target');
  return {
    tags: query.getAll('t').filter((tag) => tag !== ''),
    buildArgs: jsonMap(query, 'buildargs'),
    labels: jsonMap(query, 'labels'),
    ...(target ? { target } : {}),
    ...(network && network !== 'default' ? { network } : {}),
    noCache: queryFlag(query, 'nocache'),
    pull: queryFlag(query, 'pull'),
    quiet: queryFlag(query, 'q'),
  };
}

/** RUN's output (and a base image's pull progress) as `{"stream": …}` lines, split only on whole characters. */
function streamWriter(stream: JsonLineStream): Writable {
  const decoder = new StringDecoder('utf8');
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = decoder.write(chunk);
      if (text !== '') stream.send({ stream: text });
      done();
    },
  });
}

export async function buildRoute(api: ApiRequest, res: ServerResponse): Promise<void> {
  const flags = buildFlags(api.query);
  const context = await receiveBuildContext(api.daemon.root, api.req, api.query.get('dockerfile') || 'Dockerfile');
  const stream = jsonLineStream(res);
  // A client that goes away (Ctrl-C) cancels the build, as with dockerd: its RUN is killed.
  const cancel = new AbortController();
  res.once('close', () => { if (!res.writableFinished) cancel.abort(new MiniboxError('the client went away: build cancelled')); });
  try {
    const output = streamWriter(stream);
    const result = await buildImage(api.daemon.root, {
      ...flags, context: context.dir, dockerfile: context.dockerfile, output: { stdout: output, stderr: output },
      insecureRegistries: api.daemon.insecureRegistries, explain: api.daemon.explain, signal: cancel.signal,
    }, (line) => stream.send({ stream: `${line}\n` }));
    stream.send({ aux: { ID: result.image.id } });
    if (flags.quiet) stream.send({ stream: `${result.image.id}\n` });
    stream.end();
  } catch (error) {
    if (error instanceof DockerfileError && !stream.started) throw new ApiError(400, describeError(error));
    stream.fail(error, error instanceof RunStepError ? error.code : undefined);
  } finally {
    context.remove();
  }
}
