/**
 * A Docker-style token server for tests (the "realm" of a Bearer challenge), on 127.0.0.1.
 *
 * It signs RS256 JWTs with a throw-away key whose self-signed certificate (made with the openssl
 * CLI) goes in the registry's `rootcertbundle`; each token carries the certificate in its `x5c`
 * header, which is how distribution 2.8 finds and verifies the signing key. Anonymous pulls can
 * be allowed or refused; users with the right password get the actions they ask for.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface TokenServerOptions {
  users?: { user: string; password: string }[];
  /** Give anonymous clients pull tokens (Docker Hub's public repositories). Default true. */
  anonymousPull?: boolean;
}

export interface TokenRequestRecord {
  scope: string | undefined;
  account: string | undefined;
  authenticated: boolean;
  status: number;
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certificatePem: string;
  /** Every request the server answered, in order. */
  requests: TokenRequestRecord[];
  /** Every token handed out (to check that none leaks into messages). */
  issuedTokens: string[];
  stop(): Promise<void>;
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

function makeKeyAndCertificate(): { keyPem: string; certificatePem: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-token-key-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=minibox-test-token-issuer',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    return { keyPem: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), certificatePem: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const { keyPem, certificatePem } = makeKeyAndCertificate();
  const certificateDer = new crypto.X509Certificate(certificatePem).raw.toString('base64');
  const service = 'minibox-test-registry';
  const issuer = 'minibox-test-token-issuer';
  const anonymousPull = options.anonymousPull ?? true;
  const requests: TokenRequestRecord[] = [];
  const issuedTokens: string[] = [];

  function sign(subject: string, access: { type: string; name: string; actions: string[] }[]): string {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [certificateDer] }));
    const claims = base64url(JSON.stringify({
      iss: issuer, sub: subject, aud: service, exp: now + 300, nbf: now - 10, iat: now,
      jti: crypto.randomUUID(), access,
    }));
    const signature = crypto.sign('sha256', Buffer.from(`${header}.${claims}`), keyPem);
    return `${header}.${claims}.${base64url(signature)}`;
  }

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://token');
    const scopes = url.searchParams.getAll('scope'); // several for a cross-repository mount
    const scope = scopes.length > 0 ? scopes.join(' ') : undefined;
    const account = url.searchParams.get('account') ?? undefined;
    const answer = (status: number, body: object, authenticated: boolean): void => {
      requests.push({ scope, account, authenticated, status });
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    let user: string | undefined;
    const authorization = request.headers.authorization;
    if (authorization) {
      const decoded = Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const match = options.users?.find((u) => u.user === decoded.slice(0, colon) && u.password === decoded.slice(colon + 1));
      if (!authorization.startsWith('Basic ') || !match) {
        answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }, false);
        return;
      }
      user = match.user;
    }
    const access: { type: string; name: string; actions: string[] }[] = [];
    for (const one of scopes) {
      const [type, name, actions] = one.split(':');
      const wanted = (actions ?? '').split(',').filter((a) => a);
      const granted = user ? wanted : wanted.filter((a) => a === 'pull' && anonymousPull);
      if (!user && granted.length === 0) {
        answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, false);
        return;
      }
      access.push({ type: type ?? 'repository', name: name ?? '', actions: granted });
    }
    const token = sign(user ?? '', access);
    issuedTokens.push(token);
    // Old servers send access_token, new ones token; send only one so the client must handle both.
    answer(200, requests.length % 2 === 0 ? { token, expires_in: 300 } : { access_token: token, expires_in: 300 }, user !== undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('token server has no address');
  return {
    realm: `http://127.0.0.1:${address.port}/token`,
    service, issuer, certificatePem, requests, issuedTokens,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
