import { z } from 'zod';
import { defineResource } from './module.ts';

/** `AWS::StepFunctions::StateMachine` → aws-local-stepfunctions, with the runtime's service integrations. */
export const stateMachine = defineResource({
  types: ['AWS::StepFunctions::StateMachine'],
  engine: 'aws-local-stepfunctions with the runtime supplying service integrations',
  properties: z.looseObject({
    DefinitionString: z.string().optional(),
    Definition: z.record(z.string(), z.unknown()).optional(),
    StateMachineType: z.enum(['STANDARD', 'EXPRESS']).default('STANDARD'),
    RoleArn: z.string().optional(),
  }),
  start({ logicalId, resource, properties }, { names, engines, started }) {
    const arn = names.ref(logicalId, resource);
    engines.stepFunctions.registerStateMachine({
      name: names.physicalName(logicalId),
      arn,
      definition: properties.DefinitionString ?? JSON.stringify(properties.Definition ?? {}),
      type: properties.StateMachineType,
      roleArn: properties.RoleArn,
    });
    started.stateMachines[logicalId] = arn;
  },
});
