import type { BuzzerDescription } from './start.ts';

/** What `npm start` prints once Buzzer is up: where it is, a key to try it with, and anything that did not run. */
export function describeBuzzer(info: BuzzerDescription): string {
  const lines = [
    '',
    `Buzzer (${info.stackName}) is running locally`,
    `  API             ${info.apiUrl ?? '(no ApiUrl output)'}`,
    ...Object.entries(info.apiKeys).map(([client, key]) => `  API key         ${key}   (client "${client}")`),
    ...(info.consoleUrl
      ? [
          `  console         ${info.consoleUrl}   (orders, DLQs, failed sagas, webhooks, outbox; in a browser)`,
        ]
      : []),
    ...(info.sandboxUrl ? [`  sandbox         ${info.sandboxUrl}   (payment provider + mail sink)`] : []),
    ...(typeof info.outputs.OperatorApiUrl === 'string'
      ? [
          `  operator API    ${info.outputs.OperatorApiUrl}   (the deployed console's; token: jwtTokens in .buzzer/runtime.json)`,
        ]
      : []),
    `  tables          ${Object.values(info.tables).join(', ')}`,
    `  queues          ${Object.keys(info.queues).length} (${Object.values(info.queues).filter((q) => /Dlq/i.test(q.logicalId)).length} dead-letter)`,
    `  rules           ${info.rules.join(', ')}`,
    `  state machines  ${Object.values(info.stateMachines).join(', ')}`,
    `  functions       ${Object.keys(info.functions).length}`,
    ...(info.schedules.length > 0 ? [`  schedules       ${info.schedules.join(', ')}`] : []),
    `  AWS endpoints   dynamodb ${info.endpoints.dynamodb}  sqs ${info.endpoints.sqs}  events+states ${info.endpoints.gateway}  s3 ${info.endpoints.s3}`,
    `  S3 objects      ${info.s3Directory}`,
    ...Object.entries(info.settlementPartners).map(
      ([partner, { sftp, directory }]) =>
        `  ${`partner ${partner}`.padEnd(15)} SFTP ${sftp}, files land in ${directory} (buzzer batch run settlement --date YYYY-MM-DD)`,
    ),
    ...(typeof info.outputs.SettlementInboxBucketName === 'string'
      ? [
          `  settlement in   s3://${info.outputs.SettlementInboxBucketName}/inbox/ (on disk ${info.s3Directory}/${info.outputs.SettlementInboxBucketName}; ` +
            'drop a file with buzzer batch drop <file>, watch it with buzzer batch runs --job import)',
        ]
      : []),
    ...Object.entries(info.unsupported).map(([type, ids]) => `  NOT RUN         ${type}: ${ids.join(', ')}`),
    '',
    'Try:',
    `  curl -s -X POST ${info.apiUrl}/orders -H 'Authorization: Bearer ${Object.values(info.apiKeys)[0] ?? '<key>'}' \\`,
    `    -H 'Idempotency-Key: try-1' -H 'Content-Type: application/json' \\`,
    `    -d '{"customer":{"id":"c-1","email":"ada@example.com"},"items":[{"sku":"espresso","quantity":2}],"currency":"EUR","paymentToken":"tok_ok"}'`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  return `${lines.join('\n')}\n`;
}
