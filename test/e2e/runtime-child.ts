/**
 * A local runtime in a process of its own, for the crash-restart scenario: the test kills this process with SIGKILL
 * and starts it again on the same `--persist` directory. It is `npm start` (the same `startBuzzer`) without the
 * discovery file, which would clobber the one of a developer's running `npm start`, and with the test knobs: the
 * scheduled reconciler runs every second and counts an order as stuck after a few seconds.
 *
 * Usage: tsx test/e2e/runtime-child.ts <persistDir>
 * Prints one line `READY {"apiUrl":…,"sandboxUrl":…,"apiKeys":…,"endpoints":…,"queues":…,"tableName":…}` when up (the
 * engines' endpoints and the queues let the test count what sits in them); SIGTERM stops it cleanly.
 */
import { startBuzzer } from '#local/buzzer/start.ts';

const persistDir = process.argv[2];
if (!persistDir) {
  process.stderr.write('usage: runtime-child.ts <persistDir>\n');
  process.exit(2);
}

const runtime = await startBuzzer({
  synth: false,
  persistDir,
  apiPort: 0,
  clients: ['alice'],
  functionLogs: process.env.BUZZER_VERBOSE === '1',
  retryIntervalOverrideMs: 200,
  scheduleIntervalMs: 1_000,
  environment: {
    STUCK_AFTER_SECONDS: '3',
    RETRY_BACKOFF_BASE_SECONDS: '1',
    RETRY_BACKOFF_MAX_SECONDS: '2',
    // Mail held by an open circuit waits 2 s on its queue (a delayed message), not 30 s.
    MAIL_CIRCUIT_OPEN_SECONDS: '2',
    // A message whose worker the kill caught comes back after its visibility timeout, which must outlast the effect's
    // claim: 8 s and 10 s instead of 60 s and 180 s (see faults.local.ts).
    EFFECT_LEASE_SECONDS: '8',
  },
});
const { apiUrl, sandboxUrl, apiKeys, endpoints, queues, outputs } = runtime.info;
process.stdout.write(
  `READY ${JSON.stringify({ apiUrl, sandboxUrl, apiKeys, endpoints, queues, tableName: outputs.TableName })}\n`,
);

process.on('SIGTERM', () => {
  void runtime.stop().then(() => process.exit(0));
});
