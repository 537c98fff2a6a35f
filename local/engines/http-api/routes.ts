import { HttpApiConfigError, type HttpApiRoute } from './definition.ts';

/**
 * Route selection as API Gateway HTTP APIs do it: the most specific route wins. A literal segment beats a
 * path variable, which beats a greedy `{proxy+}`; for the same path an exact method beats `ANY`; `$default`
 * catches what nothing else matches.
 */

type Segment =
  | { kind: 'literal'; value: string }
  | { kind: 'param'; name: string }
  | { kind: 'greedy'; name: string };

/** What the table routes: anything with a route key (HTTP API routes, REST API methods). */
interface Routable {
  routeKey: string;
}

interface CompiledRoute<R extends Routable> {
  route: R;
  method: string;
  /** The path part of the route key, e.g. `/orders/{trackingId}` (the `resource` of 1.0 events). */
  path: string;
  segments: Segment[];
}

export interface RouteMatch<R extends Routable = HttpApiRoute> {
  route: R;
  /** The route's path template, or `$default`. */
  resourcePath: string;
  pathParameters: Record<string, string>;
}

const SEGMENT_RANK: Record<Segment['kind'], number> = { literal: 0, param: 1, greedy: 2 };

export class RouteTable<R extends Routable = HttpApiRoute> {
  private readonly compiled: CompiledRoute<R>[];
  private readonly fallback: R | undefined;

  constructor(routes: readonly R[]) {
    this.fallback = routes.find((route) => route.routeKey === '$default');
    this.compiled = routes.filter((route) => route.routeKey !== '$default').map(compile);
  }

  match(method: string, rawPath: string): RouteMatch<R> | undefined {
    const requestSegments = rawPath.split('/').slice(1);
    let best: { compiled: CompiledRoute<R>; params: Record<string, string> } | undefined;
    for (const candidate of this.compiled) {
      if (candidate.method !== 'ANY' && candidate.method !== method) continue;
      const params = matchSegments(candidate.segments, requestSegments);
      if (params && (!best || compareSpecificity(candidate, best.compiled) < 0))
        best = { compiled: candidate, params };
    }
    if (best)
      return { route: best.compiled.route, resourcePath: best.compiled.path, pathParameters: best.params };
    return this.fallback ? { route: this.fallback, resourcePath: '$default', pathParameters: {} } : undefined;
  }
}

function compile<R extends Routable>(route: R): CompiledRoute<R> {
  const match = /^([A-Z]+) (\/\S*)$/.exec(route.routeKey);
  if (!match?.[1] || !match[2]) {
    throw new HttpApiConfigError(`route key "${route.routeKey}" is not "<METHOD> /<path>" or "$default"`);
  }
  const path = match[2];
  const parts = path === '/' ? [] : path.split('/').slice(1);
  const segments = parts.map((part, index): Segment => {
    const variable = /^\{([^{}]+?)(\+?)\}$/.exec(part);
    if (!variable?.[1]) return { kind: 'literal', value: part };
    if (variable[2] === '+') {
      if (index !== parts.length - 1) {
        throw new HttpApiConfigError(`route key "${route.routeKey}": a greedy path variable must be last`);
      }
      return { kind: 'greedy', name: variable[1] };
    }
    return { kind: 'param', name: variable[1] };
  });
  return { route, method: match[1], path, segments };
}

function matchSegments(
  segments: readonly Segment[],
  request: readonly string[],
): Record<string, string> | undefined {
  // The root path `/` is no segments; `/a/` is ['a', ''] and does not match `/a`.
  const requestSegments = request.length === 1 && request[0] === '' ? [] : request;
  const params: Record<string, string> = {};
  for (const [index, segment] of segments.entries()) {
    if (segment.kind === 'greedy') {
      const rest = requestSegments.slice(index).join('/');
      if (rest === '') return undefined;
      params[segment.name] = decode(rest);
      return params;
    }
    const value = requestSegments[index];
    if (value === undefined) return undefined;
    if (segment.kind === 'literal') {
      if (value !== segment.value) return undefined;
    } else {
      if (value === '') return undefined;
      params[segment.name] = decode(value);
    }
  }
  return segments.length === requestSegments.length ? params : undefined;
}

/** Negative when `a` is more specific than `b`. */
function compareSpecificity(a: CompiledRoute<Routable>, b: CompiledRoute<Routable>): number {
  const length = Math.max(a.segments.length, b.segments.length);
  for (let index = 0; index < length; index += 1) {
    const rankA = rankAt(a, index);
    const rankB = rankAt(b, index);
    if (rankA !== rankB) return rankA - rankB;
  }
  return (a.method === 'ANY' ? 1 : 0) - (b.method === 'ANY' ? 1 : 0);
}

function rankAt(route: CompiledRoute<Routable>, index: number): number {
  const segment = route.segments[index];
  // Past its end a greedy route still consumes segments; a non-greedy route of equal match has none left.
  if (!segment) return route.segments.at(-1)?.kind === 'greedy' ? SEGMENT_RANK.greedy : -1;
  return SEGMENT_RANK[segment.kind];
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
