/**
 * Thrown at synth when the context describes no safe deployment; the message says what to set. `bin/app.ts` prints
 * the message alone, without a stack trace through the CDK.
 */
export class DeploymentConfigError extends Error {
  override name = 'DeploymentConfigError';
}
