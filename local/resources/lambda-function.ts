import { z } from 'zod';
import type { CfnTemplate } from '#local/types.ts';
import { cfnNumber, defineResource } from './module.ts';

/** `AWS::Lambda::Function` → the bundled asset from cdk.out in the Lambda engine's worker threads. */
export const lambdaFunction = defineResource({
  types: ['AWS::Lambda::Function'],
  engine: 'bundled asset from cdk.out, run with its resolved environment',
  properties: z.looseObject({
    Handler: z.string().default('index.handler'),
    Runtime: z.string().default('nodejs24.x'),
    Timeout: cfnNumber.optional(),
    MemorySize: cfnNumber.optional(),
    ReservedConcurrentExecutions: cfnNumber.optional(),
    Environment: z
      .looseObject({
        // Values reach the handler as strings, whatever type the template gave them.
        Variables: z
          .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
          .optional(),
      })
      .optional(),
  }),
  start({ logicalId, resource, properties }, { assembly, names, engines, started, logger }) {
    // CDK's BucketDeployment handler (Python) only publishes the console's static site on AWS, which does not run
    // locally either (ignored.ts): nothing here would ever invoke it.
    if (
      !properties.Runtime.startsWith('nodejs') &&
      servesOnlyBucketDeployments(assembly.template, logicalId)
    ) {
      logger.debug(
        `skipping ${logicalId}: the handler of Custom::CDKBucketDeployment, which does not run locally`,
      );
      return;
    }
    const codeDir = assembly.assetDirFor(logicalId);
    if (!codeDir)
      throw new Error(`function ${logicalId} has no local code directory in ${assembly.directory}`);
    const functionName = names.physicalName(logicalId);
    engines.lambda.register({
      logicalId,
      functionName,
      arn: String(names.getAtt(logicalId, resource, 'Arn')),
      codeDir,
      handler: properties.Handler,
      runtime: properties.Runtime,
      timeoutSeconds: properties.Timeout,
      memoryMb: properties.MemorySize,
      reservedConcurrency: properties.ReservedConcurrentExecutions,
      environment: properties.Environment?.Variables ?? {},
    });
    started.functions[logicalId] = functionName;
  },
});

/** Whether `logicalId` is the service token of a Custom::CDKBucketDeployment, and of nothing else but its log group. */
function servesOnlyBucketDeployments(template: CfnTemplate, logicalId: string): boolean {
  const users = Object.values(template.Resources)
    .filter((resource) => JSON.stringify(resource.Properties ?? {}).includes(`"${logicalId}"`))
    .map((resource) => resource.Type);
  return (
    users.includes('Custom::CDKBucketDeployment') &&
    users.every((type) => type === 'Custom::CDKBucketDeployment' || type === 'AWS::Logs::LogGroup')
  );
}
