/**
 * Hostile URLs through registration (the schema `POST /webhooks` uses), with a fake resolver standing in for DNS an
 * attacker controls. Every one must be refused with a message on `url`, and no refused name may need a connection.
 */
import { describe, expect, it, vi } from 'vitest';
import { type WebhookUrlOptions, webhookRegistrationSchema } from '#functions/webhooks/registration.ts';

const DNS: Record<string, string[]> = {
  'hooks.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'internal.example.com': ['10.0.0.5'],
  'office.example.com': ['192.168.1.20'],
  'docker.example.com': ['172.17.0.1'],
  'loopback.example.com': ['127.0.0.1'],
  '127.0.0.1.nip.io': ['127.0.0.1'],
  'rebind.example.com': ['93.184.216.34', '127.0.0.1'],
  'metadata.example.net': ['169.254.169.254'],
  'cgnat.example.com': ['100.64.1.1'],
  'bench.example.com': ['198.18.0.1'],
  'testnet.example.com': ['203.0.113.7'],
  'reserved.example.com': ['240.0.0.1'],
  'zero.example.com': ['0.0.0.0'],
  'v6loopback.example.com': ['::1'],
  'v6ula.example.com': ['fd12:3456::1'],
  'v6linklocal.example.com': ['fe80::1'],
  'mapped.example.com': ['::ffff:192.168.1.1'],
  'nat64.example.com': ['64:ff9b::a9fe:a9fe'],
};

const resolve = vi.fn(async (host: string) => {
  const addresses = DNS[host];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses;
});

async function register(url: string, options: WebhookUrlOptions = {}) {
  return webhookRegistrationSchema({ resolve, ...options }).safeParseAsync({
    url,
    events: ['OrderConfirmed'],
  });
}

const HOSTILE: ReadonlyArray<readonly [string, string]> = [
  // Loopback and private IPv4 in the spellings the URL parser normalises.
  ['decimal loopback', 'https://2130706433/'],
  ['decimal RFC 1918', 'https://3232235521/'],
  ['decimal metadata', 'https://2852039166/latest/meta-data/'],
  ['octal loopback', 'https://0177.0.0.1/'],
  ['octal RFC 1918', 'https://0300.0250.0.1/'],
  ['octal with padding', 'https://00000177.0.0.01/'],
  ['hex loopback', 'https://0x7f.0.0.1/'],
  ['hex single number', 'https://0x7f000001/'],
  ['hex metadata', 'https://0xa9.0xfe.0xa9.0xfe/'],
  ['short form', 'https://127.1/'],
  ['short form RFC 1918', 'https://10.1/'],
  ['mixed radix', 'https://0x0a.0.010.1/'],
  ['zero address', 'https://0.0.0.0/'],
  ['zero as one number', 'https://0/'],
  ['broadcast', 'https://255.255.255.255/'],
  ['carrier-grade NAT', 'https://100.64.0.1/'],
  ['benchmarking', 'https://198.18.0.1/'],
  ['TEST-NET-1', 'https://192.0.2.1/'],
  ['TEST-NET-3', 'https://203.0.113.5/'],
  ['reserved 240/4', 'https://240.0.0.1/'],
  ['multicast', 'https://224.0.0.1/'],
  // IPv6 literals, including the ones that embed an IPv4 address.
  ['IPv6 loopback', 'https://[::1]/'],
  ['IPv6 unspecified', 'https://[::]/'],
  ['IPv6-mapped loopback', 'https://[::ffff:127.0.0.1]/'],
  ['IPv6-mapped loopback in hex', 'https://[::ffff:7f00:1]/'],
  ['IPv6-mapped metadata', 'https://[::ffff:a9fe:a9fe]/'],
  ['IPv6-mapped RFC 1918', 'https://[::ffff:10.0.0.1]/'],
  ['IPv4-compatible loopback', 'https://[::127.0.0.1]/'],
  ['NAT64 loopback', 'https://[64:ff9b::7f00:1]/'],
  ['NAT64 metadata', 'https://[64:ff9b::169.254.169.254]/'],
  ['unique local', 'https://[fd00::1]/'],
  ['link-local', 'https://[fe80::1]/'],
  ['6to4 wrapping RFC 1918', 'https://[2002:c0a8:101::1]/'],
  // Local names.
  ['localhost', 'https://localhost/'],
  ['localhost with trailing dot', 'https://localhost./'],
  ['localhost in capitals', 'https://LOCALHOST/'],
  ['localhost subdomain', 'https://api.localhost/'],
  ['localhost subdomain with trailing dot', 'https://api.localhost./'],
  ['localhost with its default port', 'https://localhost:443/'],
  ['cloud metadata name', 'https://metadata.google.internal/computeMetadata/v1/'],
  ['mDNS name', 'https://printer.local/'],
  ['unqualified name', 'https://intranet/'],
  ['unqualified name with trailing dot', 'https://metadata./'],
  // Names whose DNS answer is private (the fake resolver plays the attacker's DNS).
  ['name resolving to RFC 1918 10/8', 'https://internal.example.com/'],
  ['name resolving to RFC 1918 192.168/16', 'https://office.example.com/'],
  ['name resolving to RFC 1918 172.16/12', 'https://docker.example.com/'],
  ['name resolving to loopback', 'https://loopback.example.com/'],
  ['wildcard DNS service', 'https://127.0.0.1.nip.io/'],
  ['name with one private record among public ones', 'https://rebind.example.com/'],
  ['name resolving to instance metadata', 'https://metadata.example.net/'],
  ['name resolving to CGNAT', 'https://cgnat.example.com/'],
  ['name resolving to benchmarking range', 'https://bench.example.com/'],
  ['name resolving to TEST-NET', 'https://testnet.example.com/'],
  ['name resolving to 240/4', 'https://reserved.example.com/'],
  ['name resolving to 0.0.0.0', 'https://zero.example.com/'],
  ['name resolving to ::1', 'https://v6loopback.example.com/'],
  ['name resolving to unique local', 'https://v6ula.example.com/'],
  ['name resolving to link-local', 'https://v6linklocal.example.com/'],
  ['name resolving to IPv6-mapped RFC 1918', 'https://mapped.example.com/'],
  ['name resolving to NAT64 metadata', 'https://nat64.example.com/'],
  ['name that does not resolve', 'https://nowhere.example.com/'],
  // Scheme, port and user-info tricks.
  ['plain http', 'http://hooks.example.com/'],
  ['another port', 'https://hooks.example.com:8443/'],
  ['credentials', 'https://user:secret@hooks.example.com/'],
  ['user-info pointing elsewhere', 'https://hooks.example.com@127.0.0.1/'],
  ['file scheme', 'file:///etc/passwd'],
  ['gopher scheme', 'gopher://hooks.example.com/'],
  ['not absolute', '/hooks'],
  ['fragment', 'https://hooks.example.com/x#y'],
];

describe('registration refuses hostile webhook URLs', () => {
  it.each(HOSTILE)('%s: %s', async (_name, url) => {
    const result = await register(url);

    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path)).toEqual([['url']]);
  });

  it.each([
    ['localhost', 'http://localhost:8080/'],
    ['an RFC 1918 address over http', 'http://10.0.0.1:8080/'],
    ['an IPv6-mapped RFC 1918 address', 'http://[::ffff:10.0.0.1]:8080/'],
    ['a name resolving to loopback', 'http://loopback.example.com:8080/'],
  ])('still refuses %s when loopback receivers are allowed (local runtime)', async (_name, url) => {
    const result = await register(url, { allowLoopbackHttp: true });

    expect(result.success).toBe(false);
  });

  it('accepts a public https URL and a loopback receiver only where the local runtime allows it', async () => {
    expect((await register('https://hooks.example.com/buzzer')).data?.url).toBe(
      'https://hooks.example.com/buzzer',
    );
    expect((await register('http://127.0.0.1:8080/hooks')).success).toBe(false);
    expect((await register('http://127.0.0.1:8080/hooks', { allowLoopbackHttp: true })).data?.url).toBe(
      'http://127.0.0.1:8080/hooks',
    );
  });
});
