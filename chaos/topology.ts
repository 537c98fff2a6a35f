/**
 * Who consumes what, read from the synthesized template rather than from a list kept here: the chaos run injects
 * faults into every consumer the template wires up (queue workers, the stream relay, saga steps), so a consumer added
 * later (the webhook dispatcher, say) is covered without touching this file.
 */
import type { CfnTemplate } from '#local/types.ts';

export interface Topology {
  /** Functions fed by an SQS event source mapping, with the queue's logical id. */
  sqsConsumers: Array<{ functionLogicalId: string; queueLogicalId: string }>;
  /** Functions fed by a DynamoDB stream (the outbox relay). */
  streamConsumers: string[];
  /** Functions a state machine invokes as task steps. */
  stateMachineSteps: string[];
  /** Dead-letter queue logical id → the queues whose RedrivePolicy sends failures there. */
  deadLetterSources: Record<string, string[]>;
}

/** Logical ids named by `Ref` or `Fn::GetAtt` anywhere inside `value`. */
export function referencedIds(value: unknown): Set<string> {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [key, inner] of Object.entries(node)) {
      if (key === 'Ref' && typeof inner === 'string') found.add(inner);
      else if (key === 'Fn::GetAtt' && Array.isArray(inner) && typeof inner[0] === 'string')
        found.add(inner[0]);
      else if (key === 'Fn::GetAtt' && typeof inner === 'string') found.add(inner.split('.')[0] ?? inner);
      else visit(inner);
    }
  };
  visit(value);
  return found;
}

const firstRef = (value: unknown): string | undefined => [...referencedIds(value)][0];

export function topologyOf(template: CfnTemplate): Topology {
  const resources = template.Resources;
  const typeOf = (id: string) => resources[id]?.Type;
  const topology: Topology = {
    sqsConsumers: [],
    streamConsumers: [],
    stateMachineSteps: [],
    deadLetterSources: {},
  };
  const steps = new Set<string>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::Lambda::EventSourceMapping') {
      const fn = firstRef(props.FunctionName);
      const source = firstRef(props.EventSourceArn);
      if (!fn || !source) continue;
      if (typeOf(source) === 'AWS::SQS::Queue') {
        topology.sqsConsumers.push({ functionLogicalId: fn, queueLogicalId: source });
      } else if (typeOf(source) === 'AWS::DynamoDB::Table') {
        topology.streamConsumers.push(fn);
      }
    } else if (resource.Type === 'AWS::StepFunctions::StateMachine') {
      for (const id of referencedIds(props.DefinitionString ?? props.Definition)) {
        if (typeOf(id) === 'AWS::Lambda::Function') steps.add(id);
      }
    } else if (resource.Type === 'AWS::SQS::Queue') {
      const dlq = firstRef(
        (props.RedrivePolicy as { deadLetterTargetArn?: unknown } | undefined)?.deadLetterTargetArn,
      );
      if (dlq) topology.deadLetterSources[dlq] = [...(topology.deadLetterSources[dlq] ?? []), logicalId];
    }
  }
  topology.stateMachineSteps = [...steps].sort();
  return topology;
}
