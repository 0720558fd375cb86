/** A password goes to a token server only over HTTPS (or on this machine). */
import { describe, expect, it } from 'vitest';
import { fetchBearerToken } from '../../src/image/registry/bearer.js';
import { Transport } from '../../src/image/registry/transport.js';

describe('Bearer token realm', () => {
  it('refuses to send credentials to a plain-HTTP token server on another host, before any request', async () => {
    const transport = new Transport();
    const sent: string[] = [];
    const original = transport.send.bind(transport);
    transport.send = async (url: string, init?: Parameters<Transport['send']>[1]) => { sent.push(url); return await original(url, init); };
    await expect(fetchBearerToken(transport, {
      challenge: { scheme: 'bearer', params: { realm: 'http://auth.example.invalid/token', service: 'registry' } },
      credentials: { username: 'alice', password: 's3cret-pass' },
      registry: 'registry.example.invalid',
    } as Parameters<typeof fetchBearerToken>[1])).rejects.toThrow(/will not send your password/);
    expect(sent).toEqual([]);
  });
});
