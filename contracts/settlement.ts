/** The settlement export's configuration, shared by lib/ (which writes it) and functions/settlement (which reads it). */

export const SETTLEMENT_FORMAT_NAMES = ['csv', 'kv', 'jsonl'] as const;
export type SettlementFormatName = (typeof SETTLEMENT_FORMAT_NAMES)[number];

/** A partner name goes into S3 keys, table keys and file names. */
export const PARTNER_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** One partner as the functions get it (`SETTLEMENT_PARTNERS`, JSON). */
export interface SettlementPartnerConfig {
  readonly name: string;
  readonly format: SettlementFormatName;
  /**
   * The name of the Secrets Manager secret with the SFTP host, port, user, private key and pinned host key: a name,
   * not an ARN, so the configuration is plain text (`settlementSecretName`).
   */
  readonly secretId: string;
  /** Folder on the partner's server. */
  readonly directory: string;
}

/** Orders per page (one Query, one part file). */
export const DEFAULT_SETTLEMENT_PAGE_SIZE = 500;

/** The secret of a partner's SFTP credentials: named by the stack, so the functions' configuration is plain text. */
export const settlementSecretName = (stackName: string, partner: string): string =>
  `${stackName}/settlement/${partner}`;

/**
 * The inbound settlement file's bucket prefixes: the partner drops files into `inbox/` (on AWS an AWS Transfer Family
 * SFTP endpoint can front the bucket); a claimed file is worked on under `work/`, then moved to `processed/` or
 * `failed/` (with its error report); the reconciliation reports go to `reports/`.
 */
export const SETTLEMENT_IMPORT_PREFIXES = {
  inbox: 'inbox/',
  work: 'work/',
  processed: 'processed/',
  failed: 'failed/',
  reports: 'reports/',
} as const;

/** Lines applied per chunk (one Lambda invocation, one state of the execution). */
export const DEFAULT_SETTLEMENT_IMPORT_CHUNK_LINES = 500;

/** The import's states, as the state machine names them (the CLI and the runbook name them too). */
export const SETTLEMENT_IMPORT_STATES = {
  claim: 'ClaimFile',
  validate: 'ValidateFile',
  reject: 'RejectFile',
  apply: 'ApplyChunk',
  reconcile: 'ReconcileFile',
  finish: 'FinishFile',
} as const;
