/**
 * Buzzer's sandbox: the fake payment provider and mail sink a `sandbox=true` stack deploys, behind an AWS_IAM HTTP
 * API. Locally its calls are signed as the runtime's functions sign them.
 */
import { LOCAL_CREDENTIALS } from '#local/engines/dynamodb-local.ts';
import { DEFAULT_ACCOUNT, type LocalAccount } from '#local/types.ts';
import { authenticatedFetch, type RequestAuthenticator, SigV4Authenticator } from '#shared/request-auth.ts';

/** The sandbox provider's fault knobs (`PUT /v1/faults`); an absent knob is left as it is. */
export interface SandboxFaults {
  paymentLatencyMs?: number;
  paymentFailureRate?: number;
  mailBroken?: boolean;
  mailFailureRate?: number;
}

/**
 * Signs calls to a local runtime's sandbox API as its functions do: with the credentials the runtime gives them and
 * its region. The defaults are those of a runtime started without an environment override (e.g. in a child process).
 */
export function localSandboxAuth(
  account: LocalAccount = DEFAULT_ACCOUNT,
  credentials: { accessKeyId: string; secretAccessKey: string } = LOCAL_CREDENTIALS,
): RequestAuthenticator {
  return new SigV4Authenticator({ region: account.region, credentials });
}

/** Sets the sandbox provider's fault knobs. */
export async function setSandboxFaults(
  sandboxUrl: string,
  auth: RequestAuthenticator,
  faults: SandboxFaults,
): Promise<void> {
  const response = await authenticatedFetch(auth, `${sandboxUrl}/v1/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(Object.fromEntries(Object.entries(faults).filter(([, v]) => v !== undefined))),
  });
  if (!response.ok)
    throw new Error(`sandbox refused the fault knobs: ${response.status} ${await response.text()}`);
}
