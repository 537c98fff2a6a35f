/**
 * Runs before every unit and infra test file (not e2e: on a deployed target the e2e suite needs the real credential
 * chain). Nothing in these projects talks to AWS, so the SDK gets a region and dummy credentials and never goes
 * looking for a profile, SSO or instance metadata, whatever the developer's shell holds. A test that needs other
 * values (a SigV4 region it asserts on) sets them itself.
 */
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'AKIDTESTTESTTEST';
process.env.AWS_SECRET_ACCESS_KEY = 'test-secret';
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;
// The handlers' table, the same name the unit tests assert on (test/unit/functions/helpers.ts TABLE), read by the
// handler modules' configuration when they load. Set here, before any test file is imported, whatever the shell holds.
process.env.TABLE_NAME = 'buzzer-test';

// Powertools Metrics prints each handler's EMF document straight to stdout, which buried the reporter's output under
// thousands of lines. Tests that assert on metrics capture stdout first (test/unit/support/emf.ts spies on the same
// `write`, outside this filter), so only the documents nobody reads are dropped here.
const writeStdout = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: unknown, ...rest: unknown[]) =>
  typeof chunk === 'string' && chunk.startsWith('{"_aws":')
    ? true
    : (writeStdout as (...args: unknown[]) => boolean)(chunk, ...rest)) as typeof process.stdout.write;
