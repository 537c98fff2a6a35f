/**
 * The profile's arithmetic (bench/profile.ts takes the measurements): a V8 CPU profile's self time grouped by what
 * each frame belongs to, and the report's tables.
 */
import type { LatencySummary } from './stats.ts';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * What a frame belongs to: an npm package (split where the cost differs: SigV4 signing, the SDK's protocol
 * serialisation), a file of ours, a Node internal module, or one of V8's pseudo-frames. Native frames have no URL;
 * they are charged to their caller's group and also listed by name.
 */
export function groupOf(url: string, functionName: string): string | undefined {
  if (!url) {
    if (['(garbage collector)', '(idle)', '(program)', '(root)'].includes(functionName)) return functionName;
    return undefined;
  }
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (packageMatch) {
    const [, name = '', rest = ''] = packageMatch;
    if (name === '@smithy/signature-v4' || (name === '@aws-crypto/sha256-js' && rest)) return 'SigV4 signing';
    if (name.startsWith('@aws-sdk/') || name.startsWith('@smithy/') || name.startsWith('@aws-crypto/'))
      return 'AWS SDK (middleware, serialisation, HTTP)';
    return name;
  }
  if (url.startsWith('node:')) {
    const module = url.slice('node:'.length);
    if (module.includes('worker') || module.includes('per_context/messageport'))
      return 'node: worker messaging';
    if (/^internal\/(streams|fs\/streams)|^stream|^readline|internal\/readline/.test(module))
      return 'node: streams and line reading';
    if (/^(internal\/)?(http|_http|net|internal\/http)/.test(module)) return 'node: http and sockets';
    return `node: ${module.split('/').slice(0, 2).join('/')}`;
  }
  const ours = /\/(local|bench|functions|contracts|lib|ops)\/(.*)$/.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}`;
  return url;
}

export interface ProfileGroups {
  totalMs: number;
  byGroup: Array<{ group: string; ms: number }>;
  nativeLeaves: Array<{ name: string; group: string; ms: number }>;
}

/** Self time per group (see `groupOf`) and the native leaf frames, from a V8 CPU profile. */
export function groupProfile(profile: CpuProfile): ProfileGroups {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const groupCache = new Map<number, string>();
  const groupFor = (id: number): string => {
    const cached = groupCache.get(id);
    if (cached) return cached;
    const node = byId.get(id);
    const own = node ? groupOf(node.callFrame.url, node.callFrame.functionName) : '(unknown)';
    const parent = parentOf.get(id);
    const group = own ?? (parent === undefined ? '(native)' : groupFor(parent));
    groupCache.set(id, group);
    return group;
  };
  const groupMs = new Map<string, number>();
  const leafMs = new Map<string, { group: string; ms: number }>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    totalMs += ms;
    const group = groupFor(id);
    groupMs.set(group, (groupMs.get(group) ?? 0) + ms);
    const node = byId.get(id);
    if (node && !node.callFrame.url && !node.callFrame.functionName.startsWith('(')) {
      const key = `${node.callFrame.functionName || '(anonymous)'} ← ${group}`;
      const entry = leafMs.get(key) ?? { group, ms: 0 };
      entry.ms += ms;
      leafMs.set(key, entry);
    }
  });
  return {
    totalMs,
    byGroup: [...groupMs].map(([group, ms]) => ({ group, ms })).sort((a, b) => b.ms - a.ms),
    nativeLeaves: [...leafMs]
      .map(([key, { group, ms }]) => ({ name: key.split(' ← ')[0] ?? key, group, ms }))
      .sort((a, b) => b.ms - a.ms),
  };
}

export type Figures = {
  date: string;
  machine: string;
  loadAverageAtStart: number;
  rate: number;
  orders: number;
  ended: number;
  wallMs: number;
  completedPerSecond: number;
  timeToTerminal: LatencySummary;
  atStart: { residentMb: { node: number; jvm: number }; environments: number };
  idle: {
    seconds: number;
    nodeCores: number;
    jvmCores: number;
    residentMb: { node: number; jvm: number };
    environments: number;
  };
  residentMbAfterLoad: { node: number; jvm: number };
  environmentsAfterLoad: number;
  cpuMsPerOrder: Record<string, number>;
  cores: Record<string, number>;
  functions: Array<{ function: string; invocationsPerOrder: number; busyMsPerOrder: number }>;
  mainThread: {
    profiledMs: number;
    byGroup: Array<{ group: string; ms: number; share: number }>;
    nativeLeaves: Array<{ name: string; group: string; ms: number; share: number }>;
  };
};

const f1 = (n: number): string => n.toFixed(1);
const pc = (n: number): string => `${(n * 100).toFixed(1)} %`;

export function render(figures: Figures): string {
  const lines = [
    `# Profile of the local runtime, ${figures.date}`,
    '',
    `${figures.machine}; load average ${f1(figures.loadAverageAtStart)} at start. ${figures.orders} orders at ${figures.rate}/s; ` +
      `${figures.ended} ended; ${f1(figures.completedPerSecond)} completed/s; ` +
      `202 → terminal p50 ${Math.round(figures.timeToTerminal.p50)} ms, p99 ${Math.round(figures.timeToTerminal.p99)} ms; ` +
      `window ${f1(figures.wallMs / 1000)} s (until quiet).`,
    '',
    '## Idle and memory',
    '',
    `Started: Node ${Math.round(figures.atStart.residentMb.node)} MB + JVM ${Math.round(figures.atStart.residentMb.jvm)} MB resident, ` +
      `${figures.atStart.environments} function environments. ` +
      `Idle for ${figures.idle.seconds} s after the warm-up: the Node process used ${figures.idle.nodeCores.toFixed(3)} cores and ` +
      `DynamoDB Local's JVM ${figures.idle.jvmCores.toFixed(3)}. Resident memory idle: Node ${Math.round(figures.idle.residentMb.node)} MB + ` +
      `JVM ${Math.round(figures.idle.residentMb.jvm)} MB with ${figures.idle.environments} environments; after the load: Node ${Math.round(figures.residentMbAfterLoad.node)} MB + ` +
      `JVM ${Math.round(figures.residentMbAfterLoad.jvm)} MB with ${figures.environmentsAfterLoad} environments.`,
    '',
    '## CPU per order',
    '',
    '| where | ms per order | cores used over the window |',
    '|---|---|---|',
    `| everything (Node process + JVM) | ${f1(figures.cpuMsPerOrder.total ?? 0)} | |`,
    `| Node process | ${f1(figures.cpuMsPerOrder.nodeProcess ?? 0)} | ${(figures.cores.nodeProcess ?? 0).toFixed(2)} |`,
    `| — runtime main thread (engines) | ${f1(figures.cpuMsPerOrder.mainThread ?? 0)} | ${(figures.cores.mainThread ?? 0).toFixed(2)} |`,
    `| — function workers (busy time) | ${f1(figures.cpuMsPerOrder.functionWorkers ?? 0)} | |`,
    `| — other threads (load generator, GC, compiler) | ${f1(figures.cpuMsPerOrder.otherThreads ?? 0)} | |`,
    `| DynamoDB Local JVM | ${f1(figures.cpuMsPerOrder.dynamodbLocalJvm ?? 0)} | ${(figures.cores.dynamodbLocalJvm ?? 0).toFixed(2)} |`,
    '',
    '## Per function (worker busy time)',
    '',
    '| function | invocations per order | busy ms per order |',
    '|---|---|---|',
    ...figures.functions.map(
      (f) => `| ${f.function} | ${f.invocationsPerOrder.toFixed(2)} | ${f1(f.busyMsPerOrder)} |`,
    ),
    '',
    `## Main thread, self time by group (${f1(figures.mainThread.profiledMs / 1000)} s profiled, idle included)`,
    '',
    '| group | ms | share |',
    '|---|---|---|',
    ...figures.mainThread.byGroup.map((g) => `| ${g.group} | ${Math.round(g.ms)} | ${pc(g.share)} |`),
    '',
    '## Main thread, native leaf frames',
    '',
    '| native function | called from | ms | share |',
    '|---|---|---|---|',
    ...figures.mainThread.nativeLeaves.map(
      (g) => `| ${g.name} | ${g.group} | ${Math.round(g.ms)} | ${pc(g.share)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}
