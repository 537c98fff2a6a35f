import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  assertPublicUrl,
  isPublicAddress,
  pinnedLookup,
  type UnsafeUrlReason,
  UnsafeWebhookUrl,
} from '#functions/webhooks/ssrf.ts';

const PUBLIC_V4 = '93.184.216.34';
const PUBLIC_V6 = '2606:2800:220:1:248:1893:25c8:1946';

// A fake DNS: names resolve to what an attacker could make them resolve to.
const DNS: Record<string, string[]> = {
  'hooks.example.com': [PUBLIC_V4, PUBLIC_V6],
  'nat64-public.example.com': ['64:ff9b::5db8:d822'],
  'internal.example.com': ['10.0.0.5'],
  'rebind.example.com': [PUBLIC_V4, '127.0.0.1'],
  'metadata.example.net': ['169.254.169.254'],
  'v6private.example.com': ['fd00::1'],
  'v6linklocal.example.com': ['fe80::1'],
  'mapped.example.com': ['::ffff:10.1.2.3'],
  'nat64.example.com': ['64:ff9b::c0a8:1'],
  'cgnat.example.com': ['100.64.1.1'],
  'zero.example.com': ['0.0.0.0'],
  'multicast.example.com': ['224.0.0.1'],
  'garbage.example.com': ['not-an-ip'],
  'empty.example.com': [],
};

const resolve = vi.fn(async (host: string): Promise<string[]> => {
  const addresses = DNS[host];
  if (addresses === undefined)
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses;
});

afterEach(() => {
  resolve.mockClear();
});

async function rejection(url: string, allowLoopbackHttp = false): Promise<UnsafeWebhookUrl> {
  const error = await assertPublicUrl(url, { resolve, allowLoopbackHttp }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof UnsafeWebhookUrl)) throw new Error(`${url} was not rejected with UnsafeWebhookUrl`);
  return error;
}

const HOSTILE: ReadonlyArray<readonly [string, UnsafeUrlReason]> = [
  // loopback, in every spelling the URL parser normalises
  ['https://127.0.0.1/', 'private_address'],
  ['http://127.0.0.1/', 'private_address'],
  ['https://127.255.255.254/', 'private_address'],
  ['https://2130706433/', 'private_address'],
  ['https://0177.0.0.1/', 'private_address'],
  ['https://0x7f.1/', 'private_address'],
  ['https://0x7f.0x0.0x0.0x1/', 'private_address'],
  ['https://127.1/', 'private_address'],
  ['https://0x7f000001/', 'private_address'],
  ['https://017700000001/', 'private_address'],
  ['https://127.0.0.1./', 'private_address'],
  ['https://127%2e0%2e0%2e1/', 'private_address'],
  ['https://１２７.０.０.１/', 'private_address'],
  ['https://127。0。0。1/', 'private_address'],
  ['https://[::1]/', 'private_address'],
  ['https://[0:0:0:0:0:0:0:1]/', 'private_address'],
  // "this network" and unspecified
  ['https://0/', 'private_address'],
  ['https://0.0.0.0/', 'private_address'],
  ['https://[::]/', 'private_address'],
  // RFC 1918, CGNAT, link-local / instance metadata
  ['https://10.0.0.1/', 'private_address'],
  ['https://172.16.0.1/', 'private_address'],
  ['https://172.31.255.255/', 'private_address'],
  ['https://192.168.1.1/', 'private_address'],
  ['https://0300.0250.0.1/', 'private_address'],
  ['https://3232235521/', 'private_address'],
  ['https://100.64.0.1/', 'private_address'],
  ['https://100.127.255.254/', 'private_address'],
  ['https://169.254.169.254/latest/meta-data/', 'private_address'],
  // IPv4-mapped, IPv4-compatible, NAT64, 6to4 and Teredo wrappers around private IPv4
  ['https://[::ffff:127.0.0.1]/', 'private_address'],
  ['https://[::ffff:7f00:1]/', 'private_address'],
  ['https://[0:0:0:0:0:ffff:127.0.0.1]/', 'private_address'],
  ['https://[::ffff:169.254.169.254]/', 'private_address'],
  ['https://[::127.0.0.1]/', 'private_address'],
  ['https://[64:ff9b::10.0.0.1]/', 'private_address'],
  ['https://[64:ff9b::7f00:1]/', 'private_address'],
  ['https://[64:ff9b:1::a00:1]/', 'private_address'],
  ['https://[2002:7f00:1::]/', 'private_address'],
  ['https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', 'private_address'],
  // IPv6 unique-local, link-local, site-local, multicast, documentation
  ['https://[fc00::1]/', 'private_address'],
  ['https://[fd12:3456:789a::1]/', 'private_address'],
  ['https://[fe80::1]/', 'private_address'],
  ['https://[febf::1]/', 'private_address'],
  ['https://[fec0::1]/', 'private_address'],
  ['https://[ff02::1]/', 'private_address'],
  ['https://[2001:db8::1]/', 'private_address'],
  // IPv4 multicast, reserved, broadcast, documentation, benchmarking
  ['https://224.0.0.251/', 'private_address'],
  ['https://239.255.255.250/', 'private_address'],
  ['https://240.0.0.1/', 'private_address'],
  ['https://255.255.255.255/', 'private_address'],
  ['https://192.0.2.10/', 'private_address'],
  ['https://198.18.0.1/', 'private_address'],
  // local and special-use names (never resolved)
  ['https://localhost/', 'local_name'],
  ['https://localhost./', 'local_name'],
  ['https://LOCALHOST/', 'local_name'],
  ['https://api.localhost/', 'local_name'],
  ['https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/', 'local_name'],
  ['https://metadata.google.internal/computeMetadata/v1/', 'local_name'],
  ['https://printer.local/', 'local_name'],
  ['https://router.home.arpa/', 'local_name'],
  ['https://1.0.0.127.in-addr.arpa/', 'local_name'],
  ['https://metadata/', 'unqualified_name'],
  ['https://intranet-host/', 'unqualified_name'],
  // names that resolve to private addresses (any one of them)
  ['https://internal.example.com/', 'private_address'],
  ['https://rebind.example.com/', 'private_address'],
  ['https://metadata.example.net/', 'private_address'],
  ['https://v6private.example.com/', 'private_address'],
  ['https://v6linklocal.example.com/', 'private_address'],
  ['https://mapped.example.com/', 'private_address'],
  ['https://nat64.example.com/', 'private_address'],
  ['https://cgnat.example.com/', 'private_address'],
  ['https://zero.example.com/', 'private_address'],
  ['https://multicast.example.com/', 'private_address'],
  ['https://garbage.example.com/', 'private_address'],
  ['https://nxdomain.example.com/', 'unresolvable'],
  ['https://empty.example.com/', 'unresolvable'],
  // scheme, port, credentials, shape
  ['http://hooks.example.com/', 'https_required'],
  ['https://hooks.example.com:8443/', 'port_not_allowed'],
  ['https://hooks.example.com:22/', 'port_not_allowed'],
  ['https://93.184.216.34:25/', 'port_not_allowed'],
  ['https://user:pass@hooks.example.com/', 'credentials_in_url'],
  ['https://hooks.example.com@127.0.0.1/', 'credentials_in_url'],
  ['https://:secret@hooks.example.com/', 'credentials_in_url'],
  ['ftp://hooks.example.com/', 'scheme_not_allowed'],
  ['file:///etc/passwd', 'scheme_not_allowed'],
  ['gopher://127.0.0.1:6379/_FLUSHALL', 'scheme_not_allowed'],
  ['javascript:alert(1)', 'scheme_not_allowed'],
  ['data:text/plain,hello', 'scheme_not_allowed'],
  ['ws://hooks.example.com/', 'scheme_not_allowed'],
  ['not a url', 'invalid_url'],
  ['/relative/path', 'invalid_url'],
  ['https://[fe80::1%25eth0]/', 'invalid_url'],
  ['https://1.2.3.4.5/', 'invalid_url'],
  [`https://hooks.example.com/${'a'.repeat(2048)}`, 'url_too_long'],
];

describe('assertPublicUrl', () => {
  it(`has a hostile table of ${HOSTILE.length} URLs`, () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(40);
  });

  it.each(HOSTILE)('blocks %s (%s)', async (url, reason) => {
    const error = await rejection(url);

    expect(error.name).toBe('UnsafeWebhookUrl');
    expect(error.reason).toBe(reason);
    expect(error.message).not.toBe('');
  });

  it('never asks DNS about IP literals or local names', async () => {
    await rejection('https://localhost/');
    await rejection('https://2130706433/');
    await rejection('https://metadata/');

    expect(resolve).not.toHaveBeenCalled();
  });

  it('resolves a name and returns every validated address', async () => {
    const result = await assertPublicUrl('https://hooks.example.com/webhooks?x=1', { resolve });

    expect(result.url.href).toBe('https://hooks.example.com/webhooks?x=1');
    expect(result.addresses).toEqual([PUBLIC_V4, PUBLIC_V6]);
    expect(resolve).toHaveBeenCalledWith('hooks.example.com', undefined);
  });

  it.each([
    ['https://93.184.216.34/hook', [PUBLIC_V4]],
    ['https://[2606:4700:4700::1111]/hook', ['2606:4700:4700::1111']],
    ['https://[::ffff:8.8.8.8]/hook', ['::ffff:808:808']],
    ['https://hooks.example.com:443/hook', [PUBLIC_V4, PUBLIC_V6]],
    ['https://HOOKS.Example.COM./hook', [PUBLIC_V4, PUBLIC_V6]],
    ['https://nat64-public.example.com/hook', ['64:ff9b::5db8:d822']],
  ])('allows %s', async (url, addresses) => {
    const result = await assertPublicUrl(url, { resolve });

    expect(result.addresses).toEqual(addresses);
    expect(result.url.protocol).toBe('https:');
  });

  it('strips the trailing dot before resolving', async () => {
    await assertPublicUrl('https://hooks.example.com./', { resolve });

    expect(resolve).toHaveBeenCalledWith('hooks.example.com', undefined);
  });

  it('tells the client a name resolves privately without saying to what; the detail is for logs', async () => {
    const error = await rejection('https://internal.example.com/hook');

    expect(error.reason).toBe('private_address');
    expect(error.message).toBe('url resolves to a non-public address');
    expect(error.message).not.toContain('10.0.0.5');
    expect(error.detail).toContain('10.0.0.5');
  });

  it('keeps the resolver error out of the message', async () => {
    const error = await rejection('https://nowhere.example.com/hook');

    expect(error.message).toBe('nowhere.example.com does not resolve');
    expect(error.detail).toContain('ENOTFOUND');
  });

  it('gives up resolving when its deadline passes, even if the resolver never answers', async () => {
    const never = vi.fn((_host: string) => new Promise<string[]>(() => {}));
    const started = performance.now();

    const error = await assertPublicUrl('https://hooks.example.com/hook', {
      resolve: never,
      signal: AbortSignal.timeout(100),
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(UnsafeWebhookUrl);
    expect((error as UnsafeWebhookUrl).reason).toBe('resolution_timed_out');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  describe('with allowLoopbackHttp (local runtime)', () => {
    it.each([
      ['http://127.0.0.1:4010/hook', '127.0.0.1'],
      ['http://[::1]:4010/hook', '::1'],
      ['https://127.0.0.1:8443/hook', '127.0.0.1'],
      ['http://2130706433:4010/hook', '127.0.0.1'],
      ['http://[::ffff:127.0.0.1]:4010/hook', '::ffff:7f00:1'],
    ])('allows %s on any port', async (url, address) => {
      const result = await assertPublicUrl(url, { resolve, allowLoopbackHttp: true });

      expect(result.addresses).toEqual([address]);
    });

    it.each([
      ['http://localhost:4010/hook', 'local_name'],
      ['http://10.0.0.1:4010/hook', 'private_address'],
      ['http://169.254.169.254/latest', 'private_address'],
      ['http://hooks.example.com/hook', 'https_required'],
      ['http://user:pw@127.0.0.1:4010/', 'credentials_in_url'],
    ] as const)('still blocks %s', async (url, reason) => {
      expect((await rejection(url, true)).reason).toBe(reason);
    });
  });
});

describe('isPublicAddress', () => {
  it.each([
    '8.8.8.8',
    '1.1.1.1',
    PUBLIC_V4,
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '169.253.255.255',
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    PUBLIC_V6,
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ])('%s is public', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });

  it.each([
    '127.0.0.1',
    '10.255.255.255',
    '100.64.0.0',
    '172.16.0.0',
    '192.168.0.0',
    '169.254.0.1',
    '0.1.2.3',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    '::ffff:10.0.0.1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a00:1',
    'fc00::',
    'fdff:ffff::1',
    'fe80::1',
    'fe80::1%eth0',
    'ff0e::1',
    '2001:db8:1::1',
    // not IP literals at all: odd spellings are not normalised here, so they fail closed
    '2130706433',
    '0177.0.0.1',
    '127.1',
    'example.com',
    '',
  ])('%s is not public', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });
});

describe('pinnedLookup', () => {
  const lookupOnce = (lookup: LookupFunction, options: Parameters<LookupFunction>[1]) =>
    new Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family: number | undefined }>(
      (resolvePromise) => {
        lookup('anything.example.com', options, (error, address, family) => {
          resolvePromise({ error, address, family });
        });
      },
    );

  it('connects a request for a DNS name to the pinned address, without asking DNS', async () => {
    const server = createServer((req, res) => {
      res.end(`host=${req.headers.host}`);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;

    try {
      // This name does not exist: only the pinned lookup can take the request anywhere.
      const req = request({
        host: 'hooks.does-not-exist.example',
        port,
        path: '/',
        lookup: pinnedLookup(['127.0.0.1']),
      });
      req.end();
      const [res] = (await once(req, 'response')) as [NodeJS.ReadableStream];
      let text = '';
      for await (const chunk of res) text += String(chunk);

      expect(text).toBe(`host=hooks.does-not-exist.example:${port}`);
    } finally {
      server.close();
    }
  });

  it('answers single lookups with the first address of the asked family', async () => {
    const lookup = pinnedLookup([PUBLIC_V4, PUBLIC_V6]);

    expect(await lookupOnce(lookup, {})).toEqual({ error: null, address: PUBLIC_V4, family: 4 });
    expect(await lookupOnce(lookup, { family: 6 })).toEqual({ error: null, address: PUBLIC_V6, family: 6 });
    expect(await lookupOnce(lookup, { family: 'IPv6' })).toEqual({
      error: null,
      address: PUBLIC_V6,
      family: 6,
    });
  });

  it('answers `all` lookups with every pinned address', async () => {
    const lookup = pinnedLookup([PUBLIC_V4, PUBLIC_V6]);

    const { address } = await lookupOnce(lookup, { all: true });

    expect(address).toEqual([
      { address: PUBLIC_V4, family: 4 },
      { address: PUBLIC_V6, family: 6 },
    ]);
  });

  it('fails with ENOTFOUND when no pinned address has the asked family', async () => {
    const { error } = await lookupOnce(pinnedLookup([PUBLIC_V4]), { family: 6 });

    expect(error?.code).toBe('ENOTFOUND');
  });

  it.each([[[]], [['hooks.example.com']]])('refuses to pin %j', (addresses) => {
    expect(() => pinnedLookup(addresses)).toThrow(UnsafeWebhookUrl);
  });
});
