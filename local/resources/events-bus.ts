import { z } from 'zod';
import { defineResource } from './module.ts';

/** `AWS::Events::EventBus` → a bus of the runtime's EventBridge engine (PutEvents through the local gateway). */
export const eventBus = defineResource({
  types: ['AWS::Events::EventBus'],
  engine: 'runtime PutEvents endpoint',
  // The name comes from the runtime's naming rule, which reads `Name` itself.
  properties: z.looseObject({ Name: z.string().optional() }),
  start({ logicalId }, { names, engines }) {
    engines.events.registerEventBus({ name: names.physicalName(logicalId) });
  },
});
