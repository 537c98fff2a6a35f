import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import {
  DEFAULT_SETTLEMENT_IMPORT_CHUNK_LINES,
  DEFAULT_SETTLEMENT_PAGE_SIZE,
} from '#contracts/settlement.ts';
import { loadConfig, positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { logger } from '#shared/logger.ts';
import * as z from '#shared/zod.ts';
import { type ExportConfig, InvalidSettlementRequest, parsePartners } from './export.ts';
import type { ImportConfig } from './import.ts';

/** The environment every settlement step reads (lib/constructs/settlement-export.ts sets it). */
export function exportConfig(env: NodeJS.ProcessEnv = process.env): ExportConfig & { bucket: string } {
  const config = loadConfig(
    z.object({
      [ENV.SETTLEMENT_BUCKET]: requiredString(ENV.SETTLEMENT_BUCKET),
      [ENV.SETTLEMENT_PARTNERS]: requiredString(ENV.SETTLEMENT_PARTNERS),
      [ENV.SETTLEMENT_TIME_ZONE]: requiredString(ENV.SETTLEMENT_TIME_ZONE),
      [ENV.SETTLEMENT_PAGE_SIZE]: positiveIntFromEnv(ENV.SETTLEMENT_PAGE_SIZE, DEFAULT_SETTLEMENT_PAGE_SIZE),
    }),
    env,
  );
  return {
    bucket: config.SETTLEMENT_BUCKET,
    partners: parsePartners(config.SETTLEMENT_PARTNERS),
    timeZone: config.SETTLEMENT_TIME_ZONE,
    pageSize: config.SETTLEMENT_PAGE_SIZE,
  };
}

/** The steps that read or write the table: the export's environment and the table. */
export function settlementConfig(
  env: NodeJS.ProcessEnv = process.env,
): ExportConfig & { bucket: string; tableName: string } {
  const { TABLE_NAME } = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }), env);
  return { ...exportConfig(env), tableName: TABLE_NAME };
}

/**
 * The middleware of a settlement step (a Lambda task, `Payload.$: "$"`): validates the state with `schema` (a bad
 * input fails the execution with `InvalidSettlementRequest`, which no retry repeats) and logs the date and partner.
 */
export function settlementStep<T>(
  step: string,
  schema: z.ZodType<T>,
): MiddlewareObj<T, unknown, Error, Context> {
  return {
    before: (request) => {
      const parsed = schema.safeParse(request.event);
      if (!parsed.success) {
        const problems = parsed.error.issues
          .map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`)
          .join('; ');
        throw new InvalidSettlementRequest(`invalid input for ${step}: ${problems}`);
      }
      request.event = parsed.data;
      const { partner, date, name } = parsed.data as { partner?: string; date?: string; name?: string };
      logger.appendKeys({ step, partner, date, ...(name ? { file: name } : {}) });
    },
    after: () => {
      logger.info('settlement step finished', { step });
    },
  };
}

/** Days back an inbound file's business date may be: orders are kept 400 days (the table's retention). */
export const IMPORT_MAX_AGE_DAYS = 400;

/** The environment of the inbound file's steps (lib/constructs/settlement-import.ts sets it). */
export function importConfig(env: NodeJS.ProcessEnv = process.env): ImportConfig {
  const config = loadConfig(
    z.object({
      [ENV.SETTLEMENT_INBOX_BUCKET]: requiredString(ENV.SETTLEMENT_INBOX_BUCKET),
      [ENV.SETTLEMENT_TIME_ZONE]: requiredString(ENV.SETTLEMENT_TIME_ZONE),
      [ENV.SETTLEMENT_IMPORT_CHUNK_LINES]: positiveIntFromEnv(
        ENV.SETTLEMENT_IMPORT_CHUNK_LINES,
        DEFAULT_SETTLEMENT_IMPORT_CHUNK_LINES,
      ),
    }),
    env,
  );
  return {
    bucket: config.SETTLEMENT_INBOX_BUCKET,
    timeZone: config.SETTLEMENT_TIME_ZONE,
    chunkLines: config.SETTLEMENT_IMPORT_CHUNK_LINES,
    maxAgeDays: IMPORT_MAX_AGE_DAYS,
  };
}

/** The import's steps that read or write the table: its environment and the table. */
export function importTableConfig(
  env: NodeJS.ProcessEnv = process.env,
): ImportConfig & { tableName: string } {
  const { TABLE_NAME } = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }), env);
  return { ...importConfig(env), tableName: TABLE_NAME };
}
