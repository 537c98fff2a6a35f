import { SQSClient } from '@aws-sdk/client-sqs';
import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { logger } from '#shared/logger.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import * as z from '#shared/zod.ts';
import { type CampaignDeps, type CampaignResult, startCampaign } from './campaign.ts';

const config = loadConfig(
  z.object({ [ENV.MAIL_REQUEST_QUEUE_URL]: requiredString(ENV.MAIL_REQUEST_QUEUE_URL) }),
);
const deps: CampaignDeps = { sqs: new SQSClient({}), queueUrl: config.MAIL_REQUEST_QUEUE_URL };

/** Invoked by an operator (`aws lambda invoke` with a `CampaignInput`; `buzzer mail campaign` enqueues the same). */
export const handler = lambdaChain<unknown, CampaignResult>().handler(async (input) => {
  const result = await startCampaign(deps, input);
  logger.info('campaign enqueued', { ...result });
  return result;
});
