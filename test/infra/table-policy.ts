import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { BuzzerFunction } from '#lib/constructs/buzzer-function.ts';
import type { SynthResult } from './synth.ts';

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface DeployedFunction {
  /** Construct path below the stack, e.g. `Api/AcceptOrder`. */
  path: string;
  /** Handler file under functions/, e.g. `orders/accept-order.ts`. */
  entry: string;
  /** Every statement of every policy attached to the function's role. */
  statements: Statement[];
  /** Environment variables of the Lambda function. */
  environment: Record<string, unknown>;
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** A template value as text: `Fn::GetAtt` becomes `<id>.<attr>`, `Ref` becomes `<id>`, `Fn::Join` is joined. */
export function resourceText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (Array.isArray(v['Fn::GetAtt'])) return (v['Fn::GetAtt'] as string[]).join('.');
    if (typeof v.Ref === 'string') return v.Ref;
    if (Array.isArray(v['Fn::Join'])) {
      const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(resourceText).join(separator);
    }
  }
  return JSON.stringify(value);
}

export const actionsOf = (s: Statement): string[] => [s.Action].flat();
export const resourcesOf = (s: Statement): string[] => [s.Resource].flat().map(resourceText);

/** Every BuzzerFunction of the stack with the statements of its role. */
export function deployedFunctions(synth: SynthResult): DeployedFunction[] {
  const resources = synth.template.toJSON().Resources as Resources;
  const stack = synth.stack;
  const functions = stack.node.findAll().filter((c): c is BuzzerFunction => c instanceof BuzzerFunction);
  return functions.map((fn) => {
    const roleId = stack.getLogicalId(fn.role.node.defaultChild as iam.CfnRole);
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .filter((r) => (r.Properties.Roles as unknown[]).some((role) => resourceText(role) === roleId))
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
    const functionId = stack.getLogicalId(fn.function.node.defaultChild as lambda.CfnFunction);
    const environment =
      (resources[functionId]?.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables ?? {};
    return {
      path: fn.node.path.replace(`${stack.node.path}/`, ''),
      entry: fn.entry,
      statements,
      environment,
    };
  });
}

const glob = (pattern: string): RegExp =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );

/** Whether one statement's condition holds for a request whose only partition key value is `leadingKey`. */
function conditionHolds(condition: Statement['Condition'], leadingKey: string): boolean {
  for (const [operator, keys] of Object.entries(condition ?? {})) {
    for (const [key, raw] of Object.entries(keys)) {
      const values = [raw].flat();
      if (key !== 'dynamodb:LeadingKeys') throw new Error(`the simulator does not know condition key ${key}`);
      if (operator === 'ForAllValues:StringLike') {
        if (!values.some((pattern) => glob(pattern).test(leadingKey))) return false;
      } else if (operator === 'ForAllValues:StringEquals') {
        if (!values.includes(leadingKey)) return false;
      } else {
        // LeadingKeys is multivalued: without ForAllValues the condition does not mean "every key matches".
        throw new Error(`the simulator does not know condition operator ${operator} on ${key}`);
      }
    }
  }
  return true;
}

/**
 * A small IAM evaluator for the statements the stack writes (Allow only, exact resources, LeadingKeys conditions):
 * may a request `action` on `resource` (a resourceText) that touches partition key `leadingKey` go through?
 */
export function allows(
  statements: Statement[],
  action: string,
  resource: string,
  leadingKey: string,
): boolean {
  if (statements.some((s) => s.Effect !== 'Allow')) throw new Error('the simulator does not evaluate Deny');
  return statements.some(
    (s) =>
      actionsOf(s).includes(action) &&
      resourcesOf(s).some((r) => r === resource || r === '*') &&
      conditionHolds(s.Condition, leadingKey),
  );
}
