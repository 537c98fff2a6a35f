/**
 * SSRF guard for webhook deliveries. A webhook URL is chosen by a client, and our dispatcher calls it from inside
 * our network: without this guard a client could make us call the instance metadata service, a database on a
 * private subnet or our own APIs on loopback.
 *
 * The rules (each throws `UnsafeWebhookUrl` with a `reason`):
 * - parsed with the WHATWG URL parser, the one `fetch` and `http.request` use, so the host we judge is the host we
 *   connect to; it normalises the odd IPv4 spellings (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`) to
 *   dotted-quad before we look at them;
 * - `https:` only, on its default port 443: receivers are public HTTPS endpoints, and allowing any port would let a
 *   client aim our requests at non-HTTP services on public hosts (mail relays, admin ports). Exception for the
 *   local runtime: with `allowLoopbackHttp`, a literal loopback IP (127.0.0.0/8, ::1, ::ffff:127.x) is allowed over http or
 *   https on any port (test receivers listen on ephemeral ports); `localhost` stays refused;
 * - no user info (`https://user:pass@host`, and the `https://good.example@127.0.0.1` trick);
 * - no special-use or unqualified names (`localhost`, `*.localhost`, `*.local`, `*.internal`, `metadata`, …);
 * - every address the name resolves to must be public (any private one rejects the URL: an attacker controls
 *   which record a client picks);
 * - then connect to exactly those addresses with `pinnedLookup`, so a second DNS answer (rebinding) cannot swap
 *   in a private address between the check and the connection. Redirects must not be followed (or must be
 *   checked again the same way): a public endpoint could redirect to a private one.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export type UnsafeUrlReason =
  | 'invalid_url'
  | 'url_too_long'
  | 'scheme_not_allowed'
  | 'credentials_in_url'
  | 'https_required'
  | 'port_not_allowed'
  | 'private_address'
  | 'local_name'
  | 'unqualified_name'
  | 'unresolvable'
  | 'resolution_timed_out';

/**
 * `message` is shown to the client (registration answer, attempt log) and never carries what DNS answered: the
 * addresses a name resolves to inside our network are ours, not the client's. `detail` has them, for our logs only.
 */
export class UnsafeWebhookUrl extends Error {
  override name = 'UnsafeWebhookUrl';

  constructor(
    readonly reason: UnsafeUrlReason,
    message: string,
    readonly detail: string = message,
  ) {
    super(message);
  }
}

/** All A/AAAA addresses of a name. `signal` ends the wait; a resolver that cannot be cancelled may ignore it. */
export type Resolve = (hostname: string, signal?: AbortSignal) => Promise<string[]>;

export interface AssertPublicUrlOptions {
  /** Local runtime only: allow http(s) to a literal loopback IP on any port. */
  allowLoopbackHttp?: boolean;
  /** All A/AAAA addresses of a name; defaults to the system resolver (`dns.lookup` with `all`). */
  resolve?: Resolve;
  /**
   * The caller's deadline: resolution gives up when it aborts (`resolution_timed_out`), so a name server that never
   * answers cannot hold the caller longer than its own timeout.
   */
  signal?: AbortSignal;
}

export interface PublicUrl {
  url: URL;
  /** The validated addresses to connect to (pass them to `pinnedLookup`). */
  addresses: string[];
}

export const MAX_URL_LENGTH = 2048;

// IPv4 ranges that are not globally reachable unicast (IANA special-purpose registry).
const IPV4_NOT_PUBLIC: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches loopback on Linux
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, incl. 169.254.169.254 instance metadata
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. 255.255.255.255 broadcast
];

// IPv6 is judged by allow-list: only global unicast (2000::/3) can be public. That alone excludes ::, ::1,
// IPv4-compatible ::a.b.c.d, fc00::/7, fe80::/10, fec0::/10, ff00::/8, 100::/64 and 64:ff9b:1::/48.
const IPV6_GLOBAL_UNICAST: readonly [string, number] = ['2000::', 3];
const IPV6_NOT_PUBLIC_IN_GLOBAL: ReadonlyArray<readonly [string, number]> = [
  ['2001::', 23], // IETF protocol assignments, incl. Teredo 2001::/32 (tunnels to an embedded IPv4)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 (tunnels to an embedded IPv4)
  ['3fff::', 20], // documentation
];

const notPublicV4 = blockList(IPV4_NOT_PUBLIC, 'ipv4');
const globalV6 = blockList([IPV6_GLOBAL_UNICAST], 'ipv6');
const notPublicInGlobalV6 = blockList(IPV6_NOT_PUBLIC_IN_GLOBAL, 'ipv6');
const loopback = blockList([['127.0.0.0', 8]], 'ipv4');
loopback.addAddress('::1', 'ipv6');

// Top-level names that never denote a public web host: special-use names (RFC 6761 localhost, RFC 6762 .local,
// RFC 7686 .onion, .arpa infrastructure incl. RFC 8375 home.arpa), ICANN's private-use .internal (which
// cloud metadata lives under, e.g. metadata.google.internal) and the usual private-network conventions.
const LOCAL_TOP_LEVEL_NAMES: ReadonlySet<string> = new Set([
  'localhost',
  'local',
  'localdomain',
  'internal',
  'intranet',
  'lan',
  'home',
  'corp',
  'arpa',
  'onion',
]);

/** True only for a globally routable unicast IP literal. Anything else (names, odd spellings) is not public. */
export function isPublicAddress(ip: string): boolean {
  const version = isIP(ip);
  if (version === 4) return !notPublicV4.check(ip, 'ipv4');
  // A zone index (`fe80::1%eth0`) only exists on link-scoped addresses.
  if (version !== 6 || ip.includes('%')) return false;
  const embedded = embeddedIpv4(ip);
  if (embedded !== undefined) return isPublicAddress(embedded);
  return globalV6.check(ip, 'ipv6') && !notPublicInGlobalV6.check(ip, 'ipv6');
}

export async function assertPublicUrl(raw: string, options: AssertPublicUrlOptions = {}): Promise<PublicUrl> {
  if (raw.length > MAX_URL_LENGTH) {
    throw new UnsafeWebhookUrl('url_too_long', `The URL is longer than ${MAX_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeWebhookUrl('invalid_url', 'The URL is not an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UnsafeWebhookUrl('scheme_not_allowed', `The scheme ${url.protocol} is not allowed; use https:`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new UnsafeWebhookUrl('credentials_in_url', 'The URL must not contain a user name or password');
  }

  // IPv6 literals come bracketed; IPv4 literals come already normalised to dotted-quad by the parser.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isIP(host) !== 0) {
    if (options.allowLoopbackHttp && isLoopback(host)) return { url, addresses: [host] };
    if (!isPublicAddress(host)) {
      throw new UnsafeWebhookUrl('private_address', `${host} is not a public address`);
    }
    assertHttpsDefaultPort(url);
    return { url, addresses: [host] };
  }

  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  assertPublicName(name);
  assertHttpsDefaultPort(url);
  const addresses = await resolveAll(name, options.resolve ?? systemResolve, options.signal);
  const unsafe = addresses.filter((address) => !isPublicAddress(address));
  if (unsafe.length > 0) {
    throw new UnsafeWebhookUrl(
      'private_address',
      'url resolves to a non-public address',
      `${name} resolves to non-public ${unsafe.join(', ')}`,
    );
  }
  return { url, addresses };
}

/**
 * A `lookup` for `http.request`/`https.request` that answers every name with the validated addresses only, so the
 * connection goes where the check looked, whatever DNS says a moment later. TLS still verifies the certificate
 * against the URL's host name, so pinning does not weaken HTTPS.
 */
export function pinnedLookup(addresses: readonly string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: isIP(address) }));
  if (entries.length === 0 || entries.some((entry) => entry.family === 0)) {
    throw new UnsafeWebhookUrl('unresolvable', 'pinnedLookup needs at least one validated IP address');
  }
  return (hostname, options, callback) => {
    const family = familyNumber(options.family);
    const candidates = family === 0 ? entries : entries.filter((entry) => entry.family === family);
    const [first] = candidates;
    // dns.lookup answers asynchronously; callers may rely on that.
    process.nextTick(() => {
      if (first === undefined) {
        const error: NodeJS.ErrnoException = new Error(`No IPv${family} address pinned for ${hostname}`);
        error.code = 'ENOTFOUND';
        callback(error, '', 0);
      } else if (options.all) {
        callback(null, candidates);
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}

function assertHttpsDefaultPort(url: URL): void {
  if (url.protocol !== 'https:') {
    throw new UnsafeWebhookUrl('https_required', 'Webhook URLs must use https:');
  }
  // The parser drops an explicit :443, so any port left is not the default one.
  if (url.port !== '') {
    throw new UnsafeWebhookUrl('port_not_allowed', `Port ${url.port} is not allowed; webhooks use port 443`);
  }
}

function assertPublicName(name: string): void {
  const labels = name.split('.');
  const tld = labels.at(-1) ?? '';
  if (LOCAL_TOP_LEVEL_NAMES.has(tld)) {
    throw new UnsafeWebhookUrl('local_name', `${name} is a local or special-use name`);
  }
  // A single label is completed by the resolver's search domains: it names a host on our own network.
  if (labels.length < 2 || labels.some((label) => label === '')) {
    throw new UnsafeWebhookUrl('unqualified_name', `${name} is not a fully qualified domain name`);
  }
}

async function resolveAll(
  name: string,
  resolve: Resolve,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const timedOut = () =>
    new UnsafeWebhookUrl('resolution_timed_out', `${name} did not resolve before the deadline`);
  if (signal?.aborted) throw timedOut();
  let addresses: string[];
  try {
    addresses = await untilAborted(resolve(name, signal), signal);
  } catch (error) {
    if (signal?.aborted) throw timedOut();
    const detail = error instanceof Error ? error.message : String(error);
    throw new UnsafeWebhookUrl(
      'unresolvable',
      `${name} does not resolve`,
      `${name} does not resolve (${detail})`,
    );
  }
  if (addresses.length === 0) throw new UnsafeWebhookUrl('unresolvable', `${name} has no addresses`);
  return addresses;
}

/**
 * Settles with `work`, or rejects as soon as `signal` aborts: the deadline must hold even for a resolver that
 * ignores its signal (`dns.lookup` runs getaddrinfo on a libuv thread that cannot be cancelled; the thread stays
 * busy until the system resolver gives up, but this attempt does not wait for it).
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

async function systemResolve(hostname: string): Promise<string[]> {
  const records = await lookup(hostname, { all: true, verbatim: true });
  return records.map((record) => record.address);
}

function isLoopback(ip: string): boolean {
  return loopback.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6');
}

function familyNumber(family: number | 'IPv4' | 'IPv6' | undefined): number {
  if (family === 'IPv4') return 4;
  if (family === 'IPv6') return 6;
  return family ?? 0;
}

/**
 * The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or well-known NAT64 (64:ff9b::a.b.c.d) address: both
 * reach that IPv4 host, so they are exactly as public as it is.
 */
function embeddedIpv4(ip: string): string | undefined {
  const groups = ipv6Groups(ip);
  const zero = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0);
  const mapped = zero(0, 5) && groups[5] === 0xffff;
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && zero(2, 6);
  if (!mapped && !nat64) return undefined;
  const high = groups[6] ?? 0;
  const low = groups[7] ?? 0;
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** The eight 16-bit groups of a valid IPv6 literal (checked with `isIP` before), `::` and dotted tails expanded. */
function ipv6Groups(ip: string): number[] {
  let text = ip;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // ::ffff:1.2.3.4 is ::ffff:102:304 written differently.
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const [head = '', rest] = text.split('::');
  const headGroups = parse(head);
  if (rest === undefined) return headGroups;
  const restGroups = parse(rest);
  return [
    ...headGroups,
    ...new Array<number>(8 - headGroups.length - restGroups.length).fill(0),
    ...restGroups,
  ];
}

function blockList(ranges: ReadonlyArray<readonly [string, number]>, type: 'ipv4' | 'ipv6'): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of ranges) list.addSubnet(network, prefix, type);
  return list;
}
