import { describe, expect, it } from 'vitest';
import {
  compileEventPattern,
  type EventPattern,
  InvalidEventPatternError,
  matchesPattern,
  parseEventPattern,
} from '#local/engines/eventbridge/pattern.ts';

// The sample event of the EventBridge user guide and of aws/event-ruler's README.
const ec2Event = {
  version: '0',
  id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '012345679012',
  time: '2017-10-02T16:24:49Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
  detail: {
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
    'instance-id': 'i-000000aaaaaa00000',
    state: 'running',
  },
};

const withDetail = (detail: Record<string, unknown>) => ({ ...ec2Event, detail });

interface MatchCase {
  name: string;
  pattern: EventPattern;
  event: unknown;
  matches: boolean;
}

const cases: MatchCase[] = [
  // Exact values, OR within a list, AND across fields.
  {
    name: 'all listed fields match (AND)',
    pattern: {
      'detail-type': ['EC2 Instance State-change Notification'],
      resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
      detail: { state: ['initializing', 'running'] },
    },
    event: ec2Event,
    matches: true,
  },
  {
    name: 'one field out of the AND fails',
    pattern: { source: ['aws.ec2'], detail: { state: ['stopped'] } },
    event: ec2Event,
    matches: false,
  },
  {
    name: 'any value of the list matches (OR)',
    pattern: { source: ['aws.s3', 'aws.ec2'] },
    event: ec2Event,
    matches: true,
  },
  { name: 'matching is case sensitive', pattern: { source: ['AWS.EC2'] }, event: ec2Event, matches: false },
  {
    name: 'field names are case sensitive',
    pattern: { Source: ['aws.ec2'] },
    event: ec2Event,
    matches: false,
  },
  {
    name: 'a field missing from the event never matches',
    pattern: { detail: { nope: ['x'] } },
    event: ec2Event,
    matches: false,
  },
  {
    name: 'nested structure must be the same',
    pattern: { state: ['running'] },
    event: ec2Event,
    matches: false,
  },
  {
    name: 'event array matches when it intersects the pattern list',
    pattern: { resources: ['arn:a', 'arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'] },
    event: { resources: ['arn:other', 'arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'] },
    matches: true,
  },
  {
    name: 'event array with no common element does not match',
    pattern: { resources: ['arn:a'] },
    event: { resources: ['arn:b', 'arn:c'] },
    matches: false,
  },
  {
    name: 'objects inside an event array are matched element-wise',
    pattern: { employees: { firstName: ['Anna'] } },
    event: { employees: [{ firstName: 'John' }, { firstName: 'Anna' }] },
    matches: true,
  },
  {
    name: 'fields from different elements of one array do not combine',
    pattern: { employees: { firstName: ['Anna'], lastName: ['Jones'] } },
    event: {
      employees: [
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    },
    matches: false,
  },
  {
    name: 'fields from the same array element combine',
    pattern: { employees: { firstName: ['Anna'], lastName: ['Smith'] } },
    event: {
      employees: [[{ firstName: 'John', lastName: 'Doe' }], [{ firstName: 'Anna', lastName: 'Smith' }]],
    },
    matches: true,
  },
  {
    name: 'number values match numbers',
    pattern: { detail: { 'c-count': [5] } },
    event: ec2Event,
    matches: true,
  },
  {
    name: 'a number does not match the same digits as a string',
    pattern: { n: [300] },
    event: { n: '300' },
    matches: false,
  },
  {
    name: 'numbers compare numerically (300 vs 3.0e2)',
    pattern: { n: [3.0e2] },
    event: { n: 300 },
    matches: true,
  },
  { name: 'booleans match booleans', pattern: { flag: [true] }, event: { flag: true }, matches: true },
  {
    name: 'a boolean does not match the string "true"',
    pattern: { flag: [true] },
    event: { flag: 'true' },
    matches: false,
  },
  {
    name: 'null matches null',
    pattern: { detail: { responseElements: [null] } },
    event: withDetail({ responseElements: null }),
    matches: true,
  },
  {
    name: 'null does not match an empty string',
    pattern: { detail: { v: [null] } },
    event: withDetail({ v: '' }),
    matches: false,
  },
  {
    name: 'empty string matches an empty string',
    pattern: { detail: { eventVersion: [''] } },
    event: withDetail({ eventVersion: '' }),
    matches: true,
  },
  {
    name: 'empty string does not match null',
    pattern: { detail: { v: [''] } },
    event: withDetail({ v: null }),
    matches: false,
  },
  {
    name: 'null does not match a missing field',
    pattern: { detail: { v: [null] } },
    event: withDetail({}),
    matches: false,
  },
  {
    name: 'null does not match an empty array',
    pattern: { resources: [null] },
    event: { resources: [] },
    matches: false,
  },
  {
    name: 'JSON inside a string is not parsed',
    pattern: { detail: { 'my-key': ['my-value'] } },
    event: { detail: '{"my-key": "my-value"}' },
    matches: false,
  },
  {
    name: 'dotted event keys are joined like nested ones',
    pattern: { detail: { state: { status: ['running'] } } },
    event: { detail: { 'state.status': 'running' } },
    matches: true,
  },

  {
    name: 'dotted pattern keys are joined like nested ones',
    pattern: { 'detail.state': ['running'] },
    event: ec2Event,
    matches: true,
  },
  // prefix / suffix / equals-ignore-case
  {
    name: 'prefix matches the start of a string',
    pattern: { time: [{ prefix: '2017-10-02' }] },
    event: ec2Event,
    matches: true,
  },
  {
    name: 'prefix rejects another start',
    pattern: { time: [{ prefix: '2017-10-03' }] },
    event: ec2Event,
    matches: false,
  },
  {
    name: 'prefix only applies to strings',
    pattern: { n: [{ prefix: '12' }] },
    event: { n: 123 },
    matches: false,
  },
  {
    name: 'prefix equals-ignore-case ignores the case',
    pattern: { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } },
    event: withDetail({ service: 'eventbridge' }),
    matches: true,
  },
  {
    name: 'prefix equals-ignore-case still needs the prefix',
    pattern: { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } },
    event: withDetail({ service: 'sqs' }),
    matches: false,
  },
  {
    name: 'suffix matches the end of a string',
    pattern: { FileName: [{ suffix: '.png' }] },
    event: { FileName: 'a.png' },
    matches: true,
  },
  {
    name: 'suffix is case sensitive',
    pattern: { FileName: [{ suffix: '.png' }] },
    event: { FileName: 'a.PNG' },
    matches: false,
  },
  {
    name: 'suffix equals-ignore-case ignores the case',
    pattern: { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } },
    event: withDetail({ FileName: 'IMAGE.PNG' }),
    matches: true,
  },
  {
    name: 'suffix equals-ignore-case still needs the suffix',
    pattern: { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } },
    event: withDetail({ FileName: 'image.jpg' }),
    matches: false,
  },
  {
    name: 'equals-ignore-case matches any casing',
    pattern: { Name: [{ 'equals-ignore-case': 'alice' }] },
    event: { Name: 'ALICE' },
    matches: true,
  },
  {
    name: 'equals-ignore-case needs the whole value',
    pattern: { Name: [{ 'equals-ignore-case': 'alice' }] },
    event: { Name: 'Alice B' },
    matches: false,
  },
  {
    name: 'equals-ignore-case "" does not match a value',
    pattern: { v: [{ 'equals-ignore-case': '' }] },
    event: { v: 'x' },
    matches: false,
  },

  // anything-but
  {
    name: 'anything-but string matches another string',
    pattern: { detail: { state: [{ 'anything-but': 'initializing' }] } },
    event: ec2Event,
    matches: true,
  },
  {
    name: 'anything-but string rejects that string',
    pattern: { detail: { state: [{ 'anything-but': 'running' }] } },
    event: ec2Event,
    matches: false,
  },
  {
    name: 'anything-but matches null',
    pattern: { detail: { state: [{ 'anything-but': 'initializing' }] } },
    event: withDetail({ state: null }),
    matches: true,
  },
  {
    name: 'anything-but never matches a missing field',
    pattern: { detail: { state: [{ 'anything-but': 'x' }] } },
    event: withDetail({}),
    matches: false,
  },
  {
    name: 'anything-but number matches another number',
    pattern: { detail: { 'x-limit': [{ 'anything-but': 123 }] } },
    event: ec2Event,
    matches: true,
  },
  {
    name: 'anything-but number rejects that number',
    pattern: { detail: { 'x-limit': [{ 'anything-but': 301.8 }] } },
    event: ec2Event,
    matches: false,
  },
  {
    name: 'anything-but 0 matches 789',
    pattern: { detail: { 'x-limit': [{ 'anything-but': 0 }] } },
    event: withDetail({ 'x-limit': 789 }),
    matches: true,
  },
  {
    name: 'anything-but string list rejects a listed value',
    pattern: { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } },
    event: withDetail({ state: 'stopped' }),
    matches: false,
  },
  {
    name: 'anything-but string list matches an unlisted value',
    pattern: { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } },
    event: ec2Event,
    matches: true,
  },
  {
    name: 'anything-but number list rejects a listed number written differently',
    pattern: { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } },
    event: withDetail({ 'x-limit': 3.0e2 }),
    matches: false,
  },
  {
    name: 'anything-but number list does not exclude the same digits as a string',
    pattern: { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } },
    event: withDetail({ 'x-limit': '300' }),
    matches: true,
  },
  {
    name: 'anything-but matches when one element of an event array is not excluded',
    pattern: { tags: [{ 'anything-but': 'a' }] },
    event: { tags: ['a', 'b'] },
    matches: true,
  },
  {
    name: 'anything-but fails when every element of an event array is excluded',
    pattern: { tags: [{ 'anything-but': ['a', 'b'] }] },
    event: { tags: ['a', 'b'] },
    matches: false,
  },
  {
    name: 'anything-but prefix rejects the prefix',
    pattern: { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } },
    event: withDetail({ state: 'initializing' }),
    matches: false,
  },
  {
    name: 'anything-but prefix matches another start',
    pattern: { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } },
    event: ec2Event,
    matches: true,
  },
  {
    name: 'anything-but prefix matches a number',
    pattern: { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } },
    event: withDetail({ state: 12 }),
    matches: true,
  },
  {
    name: 'anything-but prefix list rejects any listed prefix',
    pattern: { Region: [{ 'anything-but': { prefix: ['us-', 'eu-'] } }] },
    event: { Region: 'eu-west-1' },
    matches: false,
  },
  {
    name: 'anything-but suffix rejects the suffix',
    pattern: { FileName: [{ 'anything-but': { suffix: '.png' } }] },
    event: { FileName: 'photo.png' },
    matches: false,
  },
  {
    name: 'anything-but suffix matches another ending',
    pattern: { FileName: [{ 'anything-but': { suffix: '.png' } }] },
    event: { FileName: 'notes.txt' },
    matches: true,
  },
  {
    name: 'anything-but equals-ignore-case rejects any casing',
    pattern: { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] },
    event: { state: 'INITIALIZING' },
    matches: false,
  },
  {
    name: 'anything-but equals-ignore-case list matches an unlisted value',
    pattern: { state: [{ 'anything-but': { 'equals-ignore-case': ['stopped', 'overloaded'] } }] },
    event: { state: 'Running' },
    matches: true,
  },
  {
    name: 'anything-but wildcard rejects a match',
    pattern: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] },
    event: { FilePath: 'src/lib/index.ts' },
    matches: false,
  },
  {
    name: 'anything-but wildcard matches a non-match',
    pattern: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] },
    event: { FilePath: 'src/bin/index.ts' },
    matches: true,
  },
  {
    name: 'anything-but wildcard "" matches a non-empty value',
    pattern: { FilePath: [{ 'anything-but': { wildcard: '' } }] },
    event: { FilePath: 'dir/init/file' },
    matches: true,
  },
  {
    name: 'anything-but wildcard matches a number',
    pattern: { FilePath: [{ 'anything-but': { wildcard: '*/dir/*' } }] },
    event: { FilePath: 123 },
    matches: true,
  },

  // numeric
  {
    name: 'numeric ranges all hold (AWS example)',
    pattern: {
      detail: {
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ numeric: ['=', 3.018e2] }],
      },
    },
    event: ec2Event,
    matches: true,
  },
  {
    name: 'numeric > is exclusive',
    pattern: { n: [{ numeric: ['>', 5] }] },
    event: { n: 5 },
    matches: false,
  },
  {
    name: 'numeric >= is inclusive',
    pattern: { n: [{ numeric: ['>=', 5] }] },
    event: { n: 5 },
    matches: true,
  },
  {
    name: 'numeric < is exclusive',
    pattern: { n: [{ numeric: ['<', 5] }] },
    event: { n: 5 },
    matches: false,
  },
  {
    name: 'numeric <= is inclusive',
    pattern: { n: [{ numeric: ['<=', 5] }] },
    event: { n: 5 },
    matches: true,
  },
  {
    name: 'numeric = compares numerically',
    pattern: { n: [{ numeric: ['=', 300] }] },
    event: { n: 3e2 },
    matches: true,
  },
  {
    name: 'numeric = rejects another number',
    pattern: { n: [{ numeric: ['=', 300] }] },
    event: { n: 300.5 },
    matches: false,
  },
  {
    name: 'numeric range rejects a value above it',
    pattern: { n: [{ numeric: ['>', 0, '<=', 5] }] },
    event: { n: 6 },
    matches: false,
  },
  {
    name: 'numeric range rejects its open bottom',
    pattern: { n: [{ numeric: ['>', 0, '<=', 5] }] },
    event: { n: 0 },
    matches: false,
  },
  {
    name: 'numeric accepts 101.0 > 100',
    pattern: { n: [{ numeric: ['>', 100] }] },
    event: { n: 101.0 },
    matches: true,
  },
  {
    name: 'numeric ignores numeric strings',
    pattern: { n: [{ numeric: ['>', 100] }] },
    event: { n: '300' },
    matches: false,
  },
  {
    name: 'numeric ignores null',
    pattern: { n: [{ numeric: ['>', 100] }] },
    event: { n: null },
    matches: false,
  },
  {
    name: 'numeric OR anything-but on a DynamoDB N string',
    pattern: { dynamodb: { NewImage: { n: { N: [{ numeric: ['>', 100] }, { 'anything-but': '101' }] } } } },
    event: { dynamodb: { NewImage: { n: { N: '42' } } } },
    matches: true,
  },

  // exists
  {
    name: 'exists true matches a present leaf',
    pattern: { detail: { 'c-count': [{ exists: true }] } },
    event: ec2Event,
    matches: true,
  },
  {
    name: 'exists true fails on a missing field',
    pattern: { detail: { nope: [{ exists: true }] } },
    event: ec2Event,
    matches: false,
  },
  {
    name: 'exists true matches a null leaf',
    pattern: { detail: { v: [{ exists: true }] } },
    event: withDetail({ v: null }),
    matches: true,
  },
  {
    name: 'exists true does not match an intermediate object',
    pattern: { dynamodb: { presentKey: [{ exists: true }] } },
    event: { dynamodb: { presentKey: { S: 'test123' } } },
    matches: false,
  },
  {
    name: 'exists true does not match an empty array',
    pattern: { resources: [{ exists: true }] },
    event: { resources: [] },
    matches: false,
  },
  {
    name: 'exists true matches when one array element has the field',
    pattern: { detail: { automations: { id: [{ exists: true }] } } },
    event: { detail: { automations: [{ key1: 'v1' }, { id: 'x' }, { key2: 'v2' }] } },
    matches: true,
  },
  {
    name: 'exists false matches a missing field',
    pattern: { detail: { 'c-count': [{ exists: false }] } },
    event: withDetail({ state: 'x' }),
    matches: true,
  },
  {
    name: 'exists false fails on a present leaf',
    pattern: { detail: { 'c-count': [{ exists: false }] } },
    event: ec2Event,
    matches: false,
  },
  {
    name: 'exists false matches when the field is an object (not a leaf)',
    pattern: { detail: { 'c-count': [{ exists: false }] } },
    event: withDetail({ 'c-count': { c1: 100 } }),
    matches: true,
  },
  {
    name: 'exists false fails on a deep present leaf',
    pattern: { detail: { l1: { l2: { l3: [{ exists: false }] } } } },
    event: withDetail({ l1: { l2: { l3: 'value' } } }),
    matches: false,
  },
  {
    name: 'exists false matches an empty array',
    pattern: { resources: [{ exists: false }] },
    event: { resources: [] },
    matches: true,
  },
  {
    name: 'exists false OR anything-but matches when the key is absent',
    pattern: {
      dynamodb: { NewImage: { homemade: { S: [{ 'anything-but': ['roses'] }, { exists: false }] } } },
    },
    event: { dynamodb: { NewImage: { homemade: { N: '789' } } } },
    matches: true,
  },
  {
    name: 'exists false OR anything-but rejects the excluded value',
    pattern: {
      dynamodb: { NewImage: { homemade: { S: [{ 'anything-but': ['roses'] }, { exists: false }] } } },
    },
    event: { dynamodb: { NewImage: { homemade: { S: 'roses' } } } },
    matches: false,
  },

  {
    name: 'exists false only sees fields of the array element already chosen',
    pattern: { a: { b: [2], c: [{ exists: false }] } },
    event: { a: [{ c: 1 }, { b: 2 }] },
    matches: true,
  },
  {
    name: 'exists false sees a field of the same array element',
    pattern: { a: { b: [2], c: [{ exists: false }] } },
    event: { a: [{ c: 1, b: 2 }] },
    matches: false,
  },
  // cidr
  {
    name: 'cidr matches an address inside the block',
    pattern: { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } },
    event: ec2Event,
    matches: true,
  },
  {
    name: 'cidr rejects an address outside the block',
    pattern: { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } },
    event: withDetail({ 'source-ip': '10.0.1.1' }),
    matches: false,
  },
  {
    name: 'cidr covers the whole block from a host address',
    pattern: { ip: [{ cidr: '10.0.0.77/24' }] },
    event: { ip: '10.0.0.0' },
    matches: true,
  },
  {
    name: 'cidr ignores non-strings',
    pattern: { ip: [{ cidr: '10.0.0.0/24' }] },
    event: { ip: 123 },
    matches: false,
  },
  {
    name: 'cidr ignores non-addresses',
    pattern: { ip: [{ cidr: '10.0.0.0/24' }] },
    event: { ip: 'ten' },
    matches: false,
  },
  {
    name: 'cidr matches IPv6',
    pattern: { ip: [{ cidr: '2001:db8:1234:1a00::/64' }] },
    event: { ip: '2001:db8:1234:1a00:9691:9503:25ad:1761' },
    matches: true,
  },
  {
    name: 'cidr rejects IPv6 outside the block',
    pattern: { ip: [{ cidr: '2001:db8:1234:1a00::/64' }] },
    event: { ip: '2001:db8:1234:1a01::1' },
    matches: false,
  },
  {
    name: 'an IP written as an exact value matches the same address',
    pattern: { ip: ['2001:db8::1'] },
    event: { ip: '2001:0db8:0:0:0:0:0:1' },
    matches: true,
  },

  // wildcard
  {
    name: 'wildcard * matches any run',
    pattern: { source: [{ wildcard: 'Simple*Service' }] },
    event: { source: 'SimpleQueueService' },
    matches: true,
  },
  {
    name: 'wildcard * matches zero characters',
    pattern: { source: [{ wildcard: 'Simple*Service' }] },
    event: { source: 'SimpleService' },
    matches: true,
  },
  {
    name: 'wildcard needs the literal parts',
    pattern: { source: [{ wildcard: 'Simple*Service' }] },
    event: { source: 'SimpleQueue' },
    matches: false,
  },
  {
    name: 'wildcard with several stars',
    pattern: { f: [{ wildcard: 'dir/*/dir/*.txt' }] },
    event: { f: 'dir/a/b/dir/x.txt' },
    matches: true,
  },
  {
    name: 'wildcard with repeating sequences',
    pattern: { FileName: [{ wildcard: '/Users/*/dir/dir/dir/dir/dir/doc.txt' }] },
    event: { FileName: '/Users/ls_user/dir/dir/dir/dir/dir/doc.txt' },
    matches: true,
  },
  {
    name: 'wildcard repeating sequences must all be present',
    pattern: { FileName: [{ wildcard: '/Users/*/dir/dir/dir/dir/dir/doc.txt' }] },
    event: { FileName: '/Users/ls_user/dir/dir/dir/dir/doc.txt' },
    matches: false,
  },
  {
    name: 'wildcard \\* is a literal asterisk',
    pattern: { v: [{ wildcard: 'a\\*b' }] },
    event: { v: 'a*b' },
    matches: true,
  },
  {
    name: 'wildcard \\* does not match other characters',
    pattern: { v: [{ wildcard: 'a\\*b' }] },
    event: { v: 'axb' },
    matches: false,
  },
  {
    name: 'wildcard \\\\ is a literal backslash',
    pattern: { v: [{ wildcard: 'a\\\\*' }] },
    event: { v: 'a\\bc' },
    matches: true,
  },
  {
    name: 'wildcard only applies to strings',
    pattern: { v: [{ wildcard: '1*' }] },
    event: { v: 123 },
    matches: false,
  },
  {
    name: 'wildcard "" matches only the empty string',
    pattern: { v: [{ wildcard: '' }] },
    event: { v: '' },
    matches: true,
  },

  // $or
  {
    name: '$or matches through its first branch',
    pattern: {
      source: ['aws.cloudwatch'],
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
    },
    event: { source: 'aws.cloudwatch', metricName: 'ReadLatency' },
    matches: true,
  },
  {
    name: '$or matches through its second branch',
    pattern: {
      source: ['aws.cloudwatch'],
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
    },
    event: { source: 'aws.cloudwatch', namespace: 'AWS/ES' },
    matches: true,
  },
  {
    name: '$or still requires the fields outside it',
    pattern: {
      source: ['aws.cloudwatch'],
      $or: [{ metricName: ['CPUUtilization'] }, { namespace: ['AWS/EC2'] }],
    },
    event: { source: 'aws.ec2', namespace: 'AWS/EC2' },
    matches: false,
  },
  {
    name: 'nested $or inside an $or branch',
    pattern: {
      source: ['aws.cloudwatch'],
      $or: [
        { metricName: ['CPUUtilization'] },
        {
          metricType: ['MetricType'],
          namespace: ['AWS/EC2'],
          $or: [{ metricId: [1234] }, { spaceId: [1000] }],
        },
      ],
    },
    event: { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1000 },
    matches: true,
  },
  {
    name: 'nested $or fails when none of its branches hold',
    pattern: {
      source: ['aws.cloudwatch'],
      $or: [
        { metricName: ['CPUUtilization'] },
        {
          metricType: ['MetricType'],
          namespace: ['AWS/EC2'],
          $or: [{ metricId: [1234] }, { spaceId: [1000] }],
        },
      ],
    },
    event: { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1 },
    matches: false,
  },
  {
    name: 'parallel $or at two levels',
    pattern: {
      $or: [{ metricName: ['CPUUtilization'] }, { namespace: ['AWS/EC2'] }],
      detail: { $or: [{ source: ['aws.cloudwatch'] }, { 'detail-type': ['CloudWatch Alarm State Change'] }] },
    },
    event: { namespace: 'AWS/EC2', detail: { 'detail-type': 'CloudWatch Alarm State Change' } },
    matches: true,
  },
];

describe('matchesPattern', () => {
  it.each(cases)('$name', ({ pattern, event, matches }) => {
    // Act
    const result = matchesPattern(pattern, event);

    // Assert
    expect(result).toBe(matches);
  });

  it('accepts the pattern as JSON text, as CloudFormation stores it', () => {
    // Arrange
    const pattern = JSON.stringify({ source: ['aws.ec2'], detail: { state: ['running'] } });

    // Act / Assert
    expect(matchesPattern(pattern, ec2Event)).toBe(true);
    expect(matchesPattern(pattern, withDetail({ state: 'stopped' }))).toBe(false);
  });

  it('never matches a non-object event against a value pattern', () => {
    expect(matchesPattern({ source: ['x'] }, 'x')).toBe(false);
    expect(matchesPattern({ source: ['x'] }, null)).toBe(false);
  });

  it('validates before matching', () => {
    expect(() => matchesPattern({ source: 'aws.ec2' }, ec2Event)).toThrow(InvalidEventPatternError);
  });
});

interface InvalidCase {
  name: string;
  pattern: string | EventPattern;
  reason: string;
}

const invalid: InvalidCase[] = [
  { name: 'malformed JSON', pattern: "{'bad': 'quotation'}", reason: 'JSON' },
  { name: 'a JSON array', pattern: '["not", "a", "dict"]', reason: 'Filter is not an object' },
  {
    name: 'a leaf that is a string, not a list',
    pattern: { string: 'my-value' },
    reason: '"string" must be an object or an array',
  },
  {
    name: 'a leaf that is a number, not a list',
    pattern: { int: 42 },
    reason: '"int" must be an object or an array',
  },
  { name: 'an empty list', pattern: { resources: [] }, reason: 'Empty arrays are not allowed' },
  { name: 'an empty object', pattern: { detail: {} }, reason: 'Empty objects are not allowed' },
  {
    name: 'a nested list as a value',
    pattern: { a: [['x']] },
    reason: 'Match value must be String, number, true, false, or null',
  },
  {
    name: 'an unknown operator',
    pattern: { a: [{ contains: 'x' }] },
    reason: 'Unrecognized match type contains',
  },
  {
    name: 'operators are case sensitive',
    pattern: { my_key: [{ EXISTS: true }] },
    reason: 'Unrecognized match type EXISTS',
  },
  { name: 'an empty match expression', pattern: { a: [{}] }, reason: 'Match expression name not found' },
  {
    name: 'two operators in one expression',
    pattern: { a: [{ prefix: 'a', suffix: 'b' }] },
    reason: 'Only one key allowed',
  },
  {
    name: 'a prefix that is a list',
    pattern: { time: [{ prefix: ['2022-07-13'] }] },
    reason: 'prefix match pattern must be a string',
  },
  {
    name: 'a prefix that is a number',
    pattern: { time: [{ prefix: 123 }] },
    reason: 'prefix match pattern must be a string',
  },
  {
    name: 'a prefix object other than equals-ignore-case',
    pattern: { a: [{ prefix: { suffix: 'x' } }] },
    reason: 'Unsupported prefix pattern: suffix',
  },
  {
    name: 'a suffix that is a list',
    pattern: { FileName: [{ suffix: ['.png'] }] },
    reason: 'suffix match pattern must be a string',
  },
  {
    name: 'equals-ignore-case with a list',
    pattern: { 'detail-type': [{ 'equals-ignore-case': ['ec2'] }] },
    reason: 'equals-ignore-case match pattern must be a string',
  },
  {
    name: 'exists with a string',
    pattern: { a: [{ exists: 'yes' }] },
    reason: 'exists match pattern must be either true or false.',
  },
  {
    name: 'numeric that is not a list',
    pattern: { a: [{ numeric: 5 }] },
    reason: 'Value of numeric must be an array.',
  },
  {
    name: 'numeric with an unknown operator',
    pattern: { a: [{ numeric: ['!=', 5] }] },
    reason: 'Unrecognized numeric range operator: !=',
  },
  {
    name: 'numeric without an operator',
    pattern: { a: [{ numeric: [5] }] },
    reason: 'Invalid member in numeric match: 5',
  },
  {
    name: 'numeric with two lower bounds',
    pattern: { 'c-count': [{ numeric: ['>', 0, '>', 0] }] },
    reason: 'Bad numeric range operator: >',
  },
  {
    name: 'numeric missing the upper value',
    pattern: { 'c-count': [{ numeric: ['>', 0, '<'] }] },
    reason: 'Value of < must be numeric',
  },
  {
    name: 'numeric with a string value',
    pattern: { a: [{ numeric: ['>', '5'] }] },
    reason: 'Value of > must be numeric',
  },
  {
    name: 'numeric upper bound first',
    pattern: { a: [{ numeric: ['<', 5, '>', 0] }] },
    reason: 'Too many elements in numeric expression',
  },
  {
    name: 'numeric with bottom above top',
    pattern: { a: [{ numeric: ['>', 10, '<', 5] }] },
    reason: 'Bottom must be less than top',
  },
  {
    name: 'numeric with an empty range',
    pattern: { a: [{ numeric: ['>=', 5, '<=', 5] }] },
    reason: 'Bottom must be less than top',
  },
  {
    name: 'numeric with too many terms',
    pattern: { a: [{ numeric: ['>', 0, '<', 5, '<', 6] }] },
    reason: 'Too many terms',
  },
  {
    name: 'numeric = with extra terms',
    pattern: { a: [{ numeric: ['=', 5, '<', 6] }] },
    reason: 'Too many elements in numeric expression',
  },
  {
    name: 'numeric with more than 6 decimals',
    pattern: { a: [{ numeric: ['>', 0.1234567] }] },
    reason: 'Only values upto 6 decimals',
  },
  {
    name: 'numeric beyond the supported range',
    pattern: { a: [{ numeric: ['<', 1e12] }] },
    reason: 'Value must be between',
  },
  {
    name: 'anything-but with a boolean',
    pattern: { a: [{ 'anything-but': true }] },
    reason: 'Value of anything-but must be an array',
  },
  {
    name: 'anything-but with a mixed list',
    pattern: { a: [{ 'anything-but': ['a', 1] }] },
    reason: 'mixed type is not supported',
  },
  {
    name: 'anything-but with null in its list',
    pattern: { a: [{ 'anything-but': ['a', null] }] },
    reason: 'start|null|boolean is not supported',
  },
  {
    name: 'anything-but with an empty list',
    pattern: { a: [{ 'anything-but': [] }] },
    reason: 'mixed type is not supported',
  },
  {
    name: 'anything-but with an unknown form',
    pattern: { a: [{ 'anything-but': { numeric: ['>', 1] } }] },
    reason: 'Unsupported anything-but pattern: numeric',
  },
  {
    name: 'anything-but prefix with a number',
    pattern: { state: [{ 'anything-but': { prefix: 123 } }] },
    reason: 'prefix/suffix match pattern must be a string',
  },
  {
    name: 'anything-but suffix list with a number',
    pattern: { f: [{ 'anything-but': { suffix: [123, '.txt'] } }] },
    reason: 'prefix/suffix match pattern must be a string',
  },
  {
    name: 'anything-but with an empty prefix',
    pattern: { state: [{ 'anything-but': { prefix: '' } }] },
    reason: 'Null prefix/suffix not allowed',
  },
  {
    name: 'anything-but prefix equals-ignore-case',
    pattern: { f: [{ 'anything-but': { prefix: { 'equals-ignore-case': 'file' } } }] },
    reason: 'Value of anything-but must be an array or single string/number value.',
  },
  {
    name: 'anything-but equals-ignore-case with numbers',
    pattern: { state: [{ 'anything-but': { 'equals-ignore-case': [123, 456] } }] },
    reason: 'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.',
  },
  {
    name: 'anything-but wildcard with a number',
    pattern: { f: [{ 'anything-but': { wildcard: 123 } }] },
    reason: 'wildcard match pattern must be a string',
  },
  {
    name: 'a wildcard that is not a string',
    pattern: { arn: [{ wildcard: 123 }] },
    reason: 'wildcard match pattern must be a string',
  },
  {
    name: 'a wildcard with consecutive **',
    pattern: { arn: [{ wildcard: 'arn:aws:events:us-east-1:**:event-bus/*' }] },
    reason: 'Consecutive wildcard characters',
  },
  {
    name: 'a wildcard escaping a letter',
    pattern: { v: [{ wildcard: 'a\\b' }] },
    reason: 'Invalid escape character',
  },
  {
    name: 'anything-but wildcard with consecutive **',
    pattern: { v: [{ 'anything-but': { wildcard: 'a**' } }] },
    reason: 'Consecutive wildcard characters',
  },
  {
    name: 'a cidr without a mask',
    pattern: { ip: [{ cidr: '10.0.0.0' }] },
    reason: "Malformed CIDR, one '/' required",
  },
  {
    name: 'a cidr with a non-integer mask',
    pattern: { ip: [{ cidr: '10.0.0.0/xx' }] },
    reason: 'Malformed CIDR, mask bits must be an integer',
  },
  {
    name: 'a cidr with a bad address',
    pattern: { ip: [{ cidr: 'xx.11.xx/24' }] },
    reason: 'Nonstandard IP address: xx.11.xx',
  },
  {
    name: 'a cidr with an IPv4 /32',
    pattern: { ip: [{ cidr: '10.0.0.1/32' }] },
    reason: 'IPv4 mask bits must be < 32',
  },
  {
    name: 'a cidr given as a list',
    pattern: { ip: [{ cidr: ['10.0.0.0/24'] }] },
    reason: 'prefix match pattern must be a string',
  },
  {
    name: '$or that is not a list',
    pattern: { $or: { a: ['x'] } },
    reason: 'It must be an Array followed with $or.',
  },
  {
    name: '$or with a single branch',
    pattern: { $or: [{ a: ['x'] }] },
    reason: 'There must have at least 2 Objects in $or relationship.',
  },
  {
    name: '$or with a non-object branch',
    pattern: { $or: [{ a: ['x'] }, 'b'] },
    reason: 'Only JSON object is allowed in array of $or relationship.',
  },
  {
    name: 'an operator name used as a field inside $or',
    pattern: { $or: [{ numeric: [123] }, { prefix: ['abc'] }] },
    reason: 'numeric is Ruler reserved fieldName which cannot be used inside $or.',
  },
];

describe('parseEventPattern validation', () => {
  it.each(invalid)('rejects $name', ({ pattern, reason }) => {
    // Act
    const act = () => parseEventPattern(pattern);

    // Assert
    expect(act).toThrow(InvalidEventPatternError);
    expect(act).toThrow(reason);
  });

  it('names the error and says where the problem is', () => {
    // Act
    const error = captureError(() => parseEventPattern({ detail: { state: [{ prefix: 1 }] } }));

    // Assert
    expect(error).toBeInstanceOf(InvalidEventPatternError);
    expect(error?.name).toBe('InvalidEventPattern');
    expect(error?.message).toBe(
      'Event pattern is not valid. Reason: prefix match pattern must be a string (at detail.state[0])',
    );
  });

  it('returns the parsed pattern when it is valid', () => {
    // Arrange
    const text = '{"source":["aws.ec2"],"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}';

    // Act
    const pattern = parseEventPattern(text);

    // Assert
    expect(pattern).toEqual({ source: ['aws.ec2'], detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } });
  });

  it('accepts every operator in one pattern', () => {
    // Arrange
    const pattern: EventPattern = {
      a: ['x', 1, true, null, { exactly: 'x' }],
      b: [{ prefix: 'p' }, { prefix: { 'equals-ignore-case': 'P' } }, { suffix: 's' }],
      c: [
        { suffix: { 'equals-ignore-case': 'S' } },
        { 'equals-ignore-case': 'e' },
        { wildcard: 'a*\\*\\\\' },
      ],
      d: [
        { 'anything-but': 'x' },
        { 'anything-but': 1 },
        { 'anything-but': ['x'] },
        { 'anything-but': [1, 2] },
      ],
      e: [{ 'anything-but': { prefix: 'p' } }, { 'anything-but': { suffix: ['s', 't'] } }],
      f: [{ 'anything-but': { 'equals-ignore-case': 'x' } }, { 'anything-but': { wildcard: ['*.png'] } }],
      g: [{ numeric: ['=', 1] }, { numeric: ['>=', -5.5, '<', 5e11] }, { exists: true }, { cidr: '::/0' }],
    };

    // Act / Assert
    expect(() => compileEventPattern(pattern)).not.toThrow();
  });
});

describe('compileEventPattern', () => {
  it('compiles once and matches many events', () => {
    // Arrange
    const compiled = compileEventPattern({ 'detail-type': ['OrderConfirmed', 'OrderCancelled'] });

    // Act
    const results = ['OrderPlaced', 'OrderConfirmed', 'OrderCancelled'].map((type) =>
      compiled.matches({ source: 'buzzer.orders', 'detail-type': type }),
    );

    // Assert
    expect(results).toEqual([false, true, true]);
  });
});

function captureError(act: () => unknown): Error | undefined {
  try {
    act();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}
