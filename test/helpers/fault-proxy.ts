/**
 * A misbehaving HTTP proxy on 127.0.0.1 in front of a test registry: for the requests a test
 * chooses, it answers 503, resets the connection, cuts a body in half, flips a byte, ignores
 * Range, redirects elsewhere, or sends the first bytes of a body and holds the rest until the
 * test says so (`hold`: to prove that things overlap without timing them). Everything else is
 * forwarded untouched.
 */
import http from 'node:http';

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  | { kind: 'reset' }
  | { kind: 'cut-half' }
  /** Flips one bit of the byte at `offset` (default: the middle of the body). */
  | { kind: 'corrupt-byte'; offset?: number }
  | { kind: 'ignore-range' }
  | { kind: 'redirect'; location: string }
  | { kind: 'replace-body'; body: string; contentType: string }
  /** Sends `sendFirst` bytes of the body, then the rest once `release()` resolves. */
  | { kind: 'hold'; sendFirst: number; release: () => Promise<void> };

export interface FaultProxy {
  host: string;
  /** Method + path (with query) of every request seen, with the Authorization header present or not. */
  seen: { method: string; path: string; range?: string; authorization?: string }[];
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string, plan: (request: http.IncomingMessage) => Fault | undefined): Promise<FaultProxy> {
  const seen: FaultProxy['seen'] = [];
  const [targetHost, targetPort] = target.split(':');
  const server = http.createServer((request, response) => {
    const record: FaultProxy['seen'][number] = { method: request.method ?? 'GET', path: request.url ?? '/' };
    if (request.headers.range) record.range = request.headers.range;
    if (request.headers.authorization) record.authorization = request.headers.authorization;
    seen.push(record);
    const fault = plan(request);
    if (fault?.kind === 'reset') { request.socket.destroy(); return; }
    if (fault?.kind === 'status') { response.writeHead(fault.status, fault.headers ?? {}); response.end(); return; }
    if (fault?.kind === 'redirect') { response.writeHead(307, { Location: fault.location }); response.end(); return; }
    if (fault?.kind === 'replace-body') {
      response.writeHead(200, { 'Content-Type': fault.contentType, 'Content-Length': Buffer.byteLength(fault.body) });
      response.end(fault.body);
      return;
    }
    const headers = { ...request.headers, host: target };
    if (fault?.kind === 'ignore-range') delete headers.range;
    const upstream = http.request({ host: targetHost, port: Number(targetPort), method: request.method, path: request.url, headers }, (reply) => {
      if (!fault) {
        response.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(response);
        return;
      }
      const chunks: Buffer[] = [];
      reply.on('data', (chunk: Buffer) => chunks.push(chunk));
      reply.on('end', () => {
        const body = Buffer.concat(chunks);
        response.writeHead(reply.statusCode ?? 502, reply.headers);
        if (fault.kind === 'cut-half') {
          response.write(body.subarray(0, Math.floor(body.length / 2)), () => response.socket?.destroy());
          return;
        }
        if (fault.kind === 'hold') {
          response.write(body.subarray(0, fault.sendFirst));
          void fault.release().then(() => response.end(body.subarray(fault.sendFirst)), () => response.destroy());
          return;
        }
        if (fault.kind === 'corrupt-byte' && body.length > 0) {
          const at = fault.offset ?? Math.floor(body.length / 2);
          body[at] = (body[at] ?? 0) ^ 0x01;
        }
        response.end(body);
      });
    });
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('proxy has no address');
  return {
    host: `127.0.0.1:${address.port}`,
    seen,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
