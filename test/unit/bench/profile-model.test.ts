import { describe, expect, it } from 'vitest';
import { type CpuProfile, groupOf, groupProfile } from '../../../bench/profile-model.ts';

describe('groupOf', () => {
  it.each([
    ['file:///w/node_modules/@smithy/signature-v4/dist-cjs/index.js', 'SigV4 signing'],
    [
      'file:///w/node_modules/@aws-sdk/client-sqs/dist-cjs/index.js',
      'AWS SDK (middleware, serialisation, HTTP)',
    ],
    ['file:///w/node_modules/@smithy/core/dist-cjs/index.js', 'AWS SDK (middleware, serialisation, HTTP)'],
    ['file:///w/node_modules/local-aws-sqs/dist/index.js', 'local-aws-sqs'],
    ['node:internal/worker/io', 'node: worker messaging'],
    ['node:internal/streams/writable', 'node: streams and line reading'],
    ['node:_http_server', 'node: http and sockets'],
    ['node:internal/url', 'node: internal/url'],
    ['file:///w/local/engines/sqs.ts', 'local/engines/sqs.ts'],
  ])('puts %s under %s', (url, group) => {
    expect(groupOf(url, 'f')).toBe(group);
  });

  it("keeps V8's pseudo-frames and leaves other native frames to their caller", () => {
    expect(groupOf('', '(garbage collector)')).toBe('(garbage collector)');
    expect(groupOf('', 'postMessage')).toBeUndefined();
  });
});

describe('groupProfile', () => {
  it('charges self time to the frame, a native frame to its caller, and lists native leaves', () => {
    // root → sqs.ts (2 samples) → postMessage (native, 3 samples); root → (garbage collector) (1 sample)
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '' }, children: [2, 4] },
        { id: 2, callFrame: { functionName: 'send', url: 'file:///w/local/engines/sqs.ts' }, children: [3] },
        { id: 3, callFrame: { functionName: 'postMessage', url: '' } },
        { id: 4, callFrame: { functionName: '(garbage collector)', url: '' } },
      ],
      samples: [2, 3, 3, 2, 3, 4],
      timeDeltas: [1000, 1000, 1000, 1000, 1000, 2000],
    };

    const groups = groupProfile(profile);

    expect(groups.totalMs).toBe(7);
    expect(groups.byGroup).toEqual([
      { group: 'local/engines/sqs.ts', ms: 5 },
      { group: '(garbage collector)', ms: 2 },
    ]);
    expect(groups.nativeLeaves).toEqual([{ name: 'postMessage', group: 'local/engines/sqs.ts', ms: 3 }]);
  });
});
