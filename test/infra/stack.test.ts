import aslValidator from 'asl-validator';
import { Duration, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_CLIENT_BURST_LIMIT,
  DEFAULT_CLIENT_RATE_LIMIT,
  PREFER_WAIT_MAX_SECONDS,
} from '#contracts/api.ts';
import { WAIT_DEADLINE_MARGIN_MS } from '#functions/orders/wait.ts';
import { STACK_DESCRIPTION } from '#lib/buzzer-stack.ts';
import { AUTHORIZER_CACHE_TTL } from '#lib/constructs/api.ts';
import { Saga } from '#lib/constructs/saga.ts';
import { type SynthResult, synthBuzzer } from './synth.ts';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

let synth: SynthResult;
let resources: Resources;

beforeAll(() => {
  // The one synth of the infra project that bundles the functions: a handler esbuild cannot bundle fails here.
  synth = synthBuzzer({}, { bundle: true });
  resources = synth.template.toJSON().Resources as Resources;
});

/** The default stack's notify worker (absent only with `mailService: 'burst'`, test/infra/mail-service.test.ts). */
const notifier = () => {
  if (!synth.stack.notifier) throw new Error('the default stack has no notify worker');
  return synth.stack.notifier;
};
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const refId = (value: unknown): string | undefined => {
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string') return v.Ref;
    if (Array.isArray(v['Fn::GetAtt'])) return v['Fn::GetAtt'][0] as string;
  }
  return undefined;
};

describe('queues', () => {
  it('gives every work queue a DLQ with a receive cap, and every DLQ a source', () => {
    const queues = ofType('AWS::SQS::Queue');
    const dlqIds = new Set<string>();
    for (const [, q] of queues) {
      const redrive = q.Properties.RedrivePolicy as
        | { deadLetterTargetArn: unknown; maxReceiveCount: number }
        | undefined;
      if (redrive) {
        expect(redrive.maxReceiveCount).toBeGreaterThan(0);
        dlqIds.add(refId(redrive.deadLetterTargetArn) ?? '');
      }
    }
    // The relay's and the reconciler schedule's DLQs are fed by a function and a schedule, not by a queue.
    const workQueues = queues.filter(
      ([id]) =>
        !dlqIds.has(id) && !id.startsWith('OutboxRelayDlq') && !id.startsWith('OperationsReconcilerDlq'),
    );
    for (const [id, q] of workQueues) expect(q.Properties.RedrivePolicy, `${id} has no DLQ`).toBeDefined();
    expect(workQueues.length).toBe(5);
    expect(dlqIds.size).toBe(5);
  });

  it('encrypts every queue and allows TLS only', () => {
    for (const [id, q] of ofType('AWS::SQS::Queue')) {
      expect(q.Properties.SqsManagedSseEnabled, id).toBe(true);
    }
    const policies = ofType('AWS::SQS::QueuePolicy').map(([, p]) => JSON.stringify(p.Properties));
    expect(policies.every((p) => p.includes('"aws:SecureTransport":"false"'))).toBe(true);
  });
});

describe('event source mappings', () => {
  it('report batch item failures on every mapping', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    expect(mappings.length).toBe(6);
    for (const [id, m] of mappings)
      expect(m.Properties.FunctionResponseTypes, id).toEqual(['ReportBatchItemFailures']);
  });

  it('gathers batches for a second only after the order has ended, never before its saga starts', () => {
    const windowOf = (prefix: string) =>
      ofType('AWS::Lambda::EventSourceMapping').find(([id]) => id.startsWith(prefix))?.[1].Properties
        .MaximumBatchingWindowInSeconds;
    // Mail, points and the webhook fan-out: fewer receives, deletes and invocations per order; nobody waits on them.
    expect(windowOf('NotifierHandler')).toBe(1);
    expect(windowOf('PointsHandler')).toBe(1);
    expect(windowOf('WebhooksFanOutHandler')).toBe(1);
    // The saga start is on the way to the order's end: a window there would add to every order's time to terminal.
    expect(windowOf('SagaStarter')).toBeUndefined();
  });

  it('filters the relay to outbox inserts, bisects, caps retries and keeps failures', () => {
    const [, relay] =
      ofType('AWS::Lambda::EventSourceMapping').find(([id]) => id.startsWith('OutboxRelay')) ?? [];
    expect(relay?.Properties).toMatchObject({
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      StartingPosition: 'TRIM_HORIZON',
      FilterCriteria: {
        Filters: [
          {
            Pattern: JSON.stringify({
              eventName: ['INSERT'],
              dynamodb: { NewImage: { entity: { S: ['Outbox'] } } },
            }),
          },
        ],
      },
    });
    expect(relay?.Properties.DestinationConfig).toBeDefined();
  });
});

describe('functions', () => {
  it('run arm64 on Node.js 24 with tracing, an explicit log group and source maps', () => {
    const all = ofType('AWS::Lambda::Function');
    // 23 + the OpenAPI document's route + the settlement export's four steps + the settlement import's six + the
    // operator API + the sandbox mail sink, and CDK's own BucketDeployment handler (Python, with the AWS CLI) that
    // publishes the console's static site.
    expect(all.length).toBe(37);
    const functions = all.filter(([id]) => !id.startsWith('CustomCDKBucketDeployment'));
    expect(functions.length).toBe(36);
    for (const [id, f] of functions) {
      expect(f.Properties.Runtime, id).toBe('nodejs24.x');
      expect(f.Properties.Architectures, id).toEqual(['arm64']);
      expect(f.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(f.Properties.LoggingConfig, id).toHaveProperty('LogGroup');
      const env = (f.Properties.Environment as { Variables: Record<string, string> }).Variables;
      expect(env.NODE_OPTIONS, id).toBe('--enable-source-maps');
    }
  });

  it('sets a retention on every log group', () => {
    const groups = ofType('AWS::Logs::LogGroup');
    // Every function has its own (the explicit LoggingConfig above), so there is at least one group per function.
    expect(groups.length).toBeGreaterThanOrEqual(ofType('AWS::Lambda::Function').length);
    for (const [id, g] of groups) expect(g.Properties.RetentionInDays, id).toBeGreaterThan(0);
  });
});

describe('Prefer: wait on the order routes', () => {
  const serviceOf = (f: { Properties: Record<string, unknown> }) =>
    (f.Properties.Environment as { Variables: Record<string, string> }).Variables.POWERTOOLS_SERVICE_NAME;
  const timeoutOf = (service: string) => {
    const found = ofType('AWS::Lambda::Function').filter(([, f]) => serviceOf(f) === service);
    expect(found, service).toHaveLength(1);
    return found[0]?.[1].Properties.Timeout as number;
  };

  it('gives both order functions time for the longest wait, its margin and the request around it', () => {
    for (const service of ['api-AcceptOrder', 'api-GetOrder']) {
      const timeout = timeoutOf(service);
      expect(timeout, service).toBeGreaterThanOrEqual(
        PREFER_WAIT_MAX_SECONDS + WAIT_DEADLINE_MARGIN_MS / 1000 + 2,
      );
      // API Gateway answers 504 after its integration timeout (29 s by CDK's limit) while the function runs on.
      expect(timeout, service).toBeLessThan(29);
    }
  });

  it('keeps the 10 s default for the routes that never wait', () => {
    expect(timeoutOf('api-ListWebhooks')).toBe(10);
  });
});

describe('least privilege', () => {
  const statements = () =>
    ofType('AWS::IAM::Policy').flatMap(([id, p]) =>
      ((p.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement ?? []).map(
        (s): Record<string, unknown> & { id: string } => ({ ...s, id }),
      ),
    );
  const actionsOf = (s: Record<string, unknown>) => [s.Action].flat() as string[];

  it('never grants a service wildcard or an unscoped data action', () => {
    expect(statements().length).toBeGreaterThan(0);
    for (const s of statements()) {
      for (const action of actionsOf(s)) expect(action, s.id).not.toMatch(/(^\*$|:\*$)/);
      // CDK's BucketDeployment handler invalidates the console's distribution with cloudfront:CreateInvalidation on *
      // (CDK's grant; acknowledged in lib/constructs/console-site.ts).
      if (s.Resource === '*' && !s.id.startsWith('CustomCDKBucketDeployment')) {
        // These actions have no resource-level permissions in IAM.
        for (const action of actionsOf(s))
          expect(action, s.id).toMatch(/^(xray:|logs:|dynamodb:ListStreams$)/);
      }
    }
  });

  it('scopes table access to item actions (no scans, no table admin)', () => {
    // The sandbox provider's ledger listing scans its own test-data table; no production role may.
    const dynamo = statements()
      .filter((s) => !s.id.startsWith('SandboxProvider'))
      .flatMap((s) => actionsOf(s).filter((a) => a.startsWith('dynamodb:')));
    expect(dynamo.length).toBeGreaterThan(0);
    for (const a of dynamo) {
      expect([
        'dynamodb:Scan',
        'dynamodb:DeleteTable',
        'dynamodb:UpdateTable',
        'dynamodb:CreateTable',
      ]).not.toContain(a);
    }
  });

  it('lets only the starter, the reconciler, the settlement schedule, the inbox rule and the operator API start executions, and only the relay and the operator API (relay replay) put events', () => {
    const holders = (action: string) =>
      statements()
        .filter((s) => actionsOf(s).includes(action))
        .map((s) => s.id);
    expect(holders('states:StartExecution').sort()).toEqual([
      expect.stringMatching(/^OperationsReconciler/),
      // `POST /batch/settlement` and a saga redrive that must start a new execution (the console's operators).
      expect.stringMatching(/^OperatorApiHandler/),
      expect.stringMatching(/^SagaStarter/),
      expect.stringMatching(/^SettlementImportStateMachineEventsRole/),
      expect.stringMatching(/^SettlementScheduleRole/),
    ]);
    // The relay, and the operator API's relay replay (what `buzzer relay replay` does: republish what it gave up on).
    expect(holders('events:PutEvents').sort()).toEqual([
      expect.stringMatching(/^OperatorApiHandler/),
      expect.stringMatching(/^OutboxRelay/),
    ]);
  });
});

describe('API keys', () => {
  it('caches the authorizer decision for at most 60 s, the revocation bound README states', () => {
    // The client API's Lambda authorizer (the operator API's is a JWT authorizer, which API Gateway does not cache).
    const authorizers = ofType('AWS::ApiGatewayV2::Authorizer').filter(
      ([, a]) =>
        a.Properties.AuthorizerType === 'REQUEST' &&
        JSON.stringify(a.Properties.IdentitySource).includes('$request.header.Authorization'),
    );

    expect(authorizers).toHaveLength(1);
    for (const [, authorizer] of authorizers) {
      expect(authorizer.Properties.AuthorizerResultTtlInSeconds).toBe(AUTHORIZER_CACHE_TTL.toSeconds());
    }
    expect(AUTHORIZER_CACHE_TTL.toSeconds()).toBe(60);
  });
});

describe('client API flavour (default: http)', () => {
  it('is an HTTP API, with no REST API, usage plan or account role, and says so in its outputs', () => {
    expect(ofType('AWS::ApiGatewayV2::Api').length).toBeGreaterThanOrEqual(1);
    for (const type of [
      'AWS::ApiGateway::RestApi',
      'AWS::ApiGateway::UsagePlan',
      'AWS::ApiGateway::Account',
    ]) {
      expect(ofType(type), type).toHaveLength(0);
    }
    synth.template.hasOutput('ApiFlavour', { Value: 'http' });
    expect(Object.keys(synth.template.toJSON().Outputs)).not.toContain('ClientUsagePlans');
  });

  it("gives the authorizer the clients' default limits", () => {
    const authorizer = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('ApiAuthorizer'));
    expect(authorizer?.[1].Properties.Environment).toMatchObject({
      Variables: {
        CLIENT_RATE_LIMIT: String(DEFAULT_CLIENT_RATE_LIMIT),
        CLIENT_BURST_LIMIT: String(DEFAULT_CLIENT_BURST_LIMIT),
      },
    });
  });
});

describe('webhook secrets key', () => {
  const kmsStatements = () =>
    ofType('AWS::IAM::Policy').flatMap(([id, p]) =>
      ((p.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement ?? [])
        .filter((s) => [s.Action].flat().some((a) => String(a).startsWith('kms:')))
        .map((s): Record<string, unknown> & { id: string; actions: string[] } => ({
          ...s,
          id,
          actions: [s.Action].flat() as string[],
        })),
    );

  it('is a KMS key with automatic rotation', () => {
    const keys = ofType('AWS::KMS::Key').filter(([id]) => id.startsWith('WebhooksSecretsKey'));
    expect(keys).toHaveLength(1);
    expect(keys[0]?.[1].Properties.EnableKeyRotation).toBe(true);
  });

  it('lets registration and rotation seal, and only the dispatcher open, bound to the webhook-secret context', () => {
    const [keyId] = ofType('AWS::KMS::Key').find(([id]) => id.startsWith('WebhooksSecretsKey')) ?? [];
    const statements = kmsStatements();
    const holders = (action: string) =>
      statements
        .filter((s) => s.actions.includes(action))
        .map((s) => s.id)
        .sort();

    expect(holders('kms:Decrypt')).toEqual([expect.stringMatching(/^WebhooksDispatcher/)]);
    expect(holders('kms:GenerateDataKey')).toEqual([
      expect.stringMatching(/^ApiCreateWebhook/),
      expect.stringMatching(/^ApiRotateWebhookSecret/),
      expect.stringMatching(/^WebhooksDispatcher/),
    ]);
    for (const s of statements) {
      expect(refId(s.Resource), s.id).toBe(keyId);
      expect(s.Condition, s.id).toEqual({
        StringEquals: { 'kms:EncryptionContext:purpose': 'buzzer-webhook-signing-secret' },
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['purpose', 'clientId', 'webhookId'] },
      });
    }
  });

  it('tells exactly those functions the key', () => {
    const withKey = ofType('AWS::Lambda::Function')
      .filter(([, f]) => {
        const variables = (f.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)
          ?.Variables;
        return variables?.WEBHOOK_SECRETS_KEY_ID !== undefined;
      })
      .map(([id]) => id)
      .sort();

    expect(withKey).toEqual([
      expect.stringMatching(/^ApiCreateWebhook/),
      expect.stringMatching(/^ApiRotateWebhookSecret/),
      expect.stringMatching(/^WebhooksDispatcher/),
    ]);
  });
});

describe('saga', () => {
  /** The saga's definition in `result` (the bundled default stack unless told). */
  const definition = (result: SynthResult = synth): Record<string, unknown> => {
    const [sm] = Object.values(result.template.findResources('AWS::StepFunctions::StateMachine'));
    if (!sm) throw new Error('no state machine in the template');
    const join = (sm.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    // The function ARNs and the partition are intrinsics in the template; stand-ins keep the ASL checkable.
    const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1' };
    const text = join[1]
      .map((part) => {
        if (typeof part === 'string') return part;
        const ref = (part as { Ref?: string }).Ref;
        return (ref && pseudo[ref]) ?? 'arn:aws:lambda:us-east-1:123456789012:function:step';
      })
      .join(join[0]);
    return JSON.parse(text) as Record<string, unknown>;
  };

  it('is valid Amazon States Language', () => {
    const result = aslValidator(definition());
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it('runs compensations in reverse order after any failure', () => {
    const states = definition().States as Record<string, Record<string, unknown>>;
    for (const step of ['ReserveStock', 'AuthorizePayment', 'ConfirmOrder']) {
      // ConfirmOrder catches PaymentHeld first (a held order waits); the last catcher of every forward step compensates.
      const catchers = (states[step]?.Catch ?? []) as unknown[];
      expect(catchers.at(-1), step).toEqual({
        ErrorEquals: ['States.ALL'],
        ResultPath: '$.error',
        Next: 'VoidPayment',
      });
      expect(catchers, step).toHaveLength(step === 'ConfirmOrder' ? 2 : 1);
    }
    expect(states.VoidPayment?.Next).toBe('ReleaseStock');
    expect(states.ReleaseStock?.Next).toBe('CancelOrder');
    expect(states.CancelOrder?.Next).toBe('Cancelled');
    expect(JSON.stringify(states.AuthorizePayment?.Retry)).toContain('PaymentProviderUnavailable');
  });

  it('compensates at once on a verdict, and retries any other failure of a forward step before compensating', () => {
    const states = definition().States as Record<string, { Retry?: Array<Record<string, unknown>> }>;
    for (const step of ['ReserveStock', 'AuthorizePayment', 'ConfirmOrder']) {
      const retry = states[step]?.Retry ?? [];
      const verdicts = retry.findIndex((r) => (r.ErrorEquals as string[]).includes('OutOfStock'));
      expect(retry[verdicts], step).toMatchObject({
        ErrorEquals: expect.arrayContaining([
          'UnknownSku',
          'PriceUnavailable',
          'OrderLimitExceeded',
          'PaymentDeclined',
          'InvalidOrderState',
        ]),
        MaxAttempts: 0,
      });
      // Only the first matching retrier counts: the verdicts must come before the catch-all.
      expect(retry.at(-1), step).toMatchObject({ ErrorEquals: ['States.ALL'], MaxAttempts: 3 });
      expect(verdicts, step).toBeLessThan(retry.length - 1);
    }
  });

  let expressResult: SynthResult | undefined;
  /** One EXPRESS stack for the tests below, synthesized on first use. */
  const expressSynth = (): SynthResult => {
    expressResult ??= synthBuzzer({
      workflowType: 'EXPRESS',
      paymentHold: Duration.minutes(20),
      paymentReleasePerSecond: 7,
      paymentCircuit: { failureThreshold: 3, openInterval: Duration.seconds(10) },
    });
    return expressResult;
  };

  type Clause = { ErrorEquals: string[] } & Record<string, unknown>;
  /** The first of `clauses` that matches `error` (as Step Functions picks a retrier or a catcher). */
  const firstMatch = (clauses: unknown, error: string): Clause | undefined =>
    ((clauses ?? []) as Clause[]).find(
      (c) => c.ErrorEquals.includes(error) || c.ErrorEquals.includes('States.ALL'),
    );
  /**
   * Where a held order goes: ConfirmOrder's PaymentHeld is neither retried nor compensated but caught, with the state
   * input kept (the hold's `waitSeconds`), into the wait or the park.
   */
  const heldGoesTo = (states: Record<string, Record<string, unknown>>): unknown => {
    expect(firstMatch(states.ConfirmOrder?.Retry, 'PaymentHeld')).toEqual({
      ErrorEquals: ['PaymentHeld'],
      MaxAttempts: 0,
    });
    const catcher = firstMatch(states.ConfirmOrder?.Catch, 'PaymentHeld');
    expect(catcher).toMatchObject({ ErrorEquals: ['PaymentHeld'], ResultPath: null });
    return catcher?.Next;
  };

  it.each([
    ['STANDARD', () => synth],
    ['EXPRESS', expressSynth],
  ])('confirms an order of the %s saga in three states: no Choice on the happy path', (_type, result) => {
    const machine = definition(result());
    const states = machine.States as Record<string, Record<string, unknown>>;
    expect(machine.StartAt).toBe('ReserveStock');
    expect(states.ReserveStock?.Next).toBe('AuthorizePayment');
    expect(states.AuthorizePayment?.Next).toBe('ConfirmOrder');
    expect(states.ConfirmOrder).toMatchObject({ End: true });
    expect(Object.values(states).filter((state) => state.Type === 'Choice')).toEqual([]);
    // Only ConfirmOrder turns a hold into a wait: neither earlier step knows PaymentHeld.
    for (const step of ['ReserveStock', 'AuthorizePayment']) {
      expect(JSON.stringify(states[step]), step).not.toContain('PaymentHeld');
    }
  });

  it('waits inside a STANDARD execution while the payment circuit holds the order, then pays again', () => {
    const states = definition().States as Record<string, Record<string, unknown>>;
    expect(heldGoesTo(states)).toBe('AwaitPaymentProvider');
    expect(states.AwaitPaymentProvider).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.payment.value.held.waitSeconds',
      Next: 'AuthorizePayment',
    });
    expect(states.ParkOrder).toBeUndefined();
    // ConfirmOrder ends the execution: a Succeed state after it is one more billed transition per confirmed order.
    expect(states.ConfirmOrder).toMatchObject({ End: true });
    expect(states.ConfirmOrder?.Next).toBeUndefined();
    expect(Object.values(states).filter((state) => state.Type === 'Succeed')).toHaveLength(1);
    // The execution outlives the longest hold (15 min by default) with room for the rest of the saga.
    expect(definition().TimeoutSeconds).toBe(30 * 60);
  });

  it('gives the payment steps the circuit and hold settings, and the starter the table to read the circuit from', () => {
    const envOf = (id: string) =>
      (resources[id]?.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables ?? {};
    const id = (fn: { function: { node: { defaultChild: unknown } } }) =>
      synth.stack.getLogicalId(fn.function.node.defaultChild as never);
    for (const step of [synth.stack.saga.steps.AuthorizePayment, synth.stack.saga.steps.VoidPayment]) {
      expect(envOf(id(step))).toMatchObject({
        PAYMENT_CIRCUIT_FAILURE_THRESHOLD: '5',
        PAYMENT_CIRCUIT_OPEN_SECONDS: '30',
        PAYMENT_HOLD_SECONDS: '900',
        PAYMENT_RELEASE_PER_SECOND: '20',
      });
    }
    expect(Object.keys(envOf(id(synth.stack.saga.starter)))).toContain('TABLE_NAME');
    expect(envOf(id(notifier().handler))).toMatchObject({
      MAIL_CIRCUIT_FAILURE_THRESHOLD: '5',
      MAIL_CIRCUIT_OPEN_SECONDS: '30',
    });
  });

  it('lets the starter and the notify worker put a held message back on their own queue, and nothing else', () => {
    const sendsTo = (
      fn: { role: { node: { defaultChild: unknown } } },
      queue: { node: { defaultChild: unknown } },
    ) =>
      synth.template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: synth.stack.getLogicalId(fn.role.node.defaultChild as never) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: Match.arrayWith(['sqs:SendMessage']),
              Resource: { 'Fn::GetAtt': [synth.stack.getLogicalId(queue.node.defaultChild as never), 'Arn'] },
            }),
          ]),
        },
      });
    sendsTo(synth.stack.saga.starter, synth.stack.saga.startQueue.queue);
    sendsTo(notifier().handler, notifier().queue.queue);
  });

  it('is STANDARD by default and EXPRESS when asked; EXPRESS parks a held order on the start queue', () => {
    expect(ofType('AWS::StepFunctions::StateMachine')[0]?.[1].Properties.StateMachineType).toBe('STANDARD');
    const express = expressSynth();
    express.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'EXPRESS',
    });
    const [[, machine] = ['', undefined]] = Object.entries(
      express.template.findResources('AWS::StepFunctions::StateMachine'),
    );
    const text = JSON.stringify(machine?.Properties.DefinitionString);
    const states = definition(express).States as Record<string, Record<string, unknown>>;
    expect(heldGoesTo(states)).toBe('ParkOrder');
    expect(states.ParkOrder).toMatchObject({ Type: 'Task', Next: 'Parked' });
    expect(states.Parked).toMatchObject({ Type: 'Succeed' });
    const startQueue = express.stack.getLogicalId(
      express.stack.saga.startQueue.queue.node.defaultChild as never,
    );
    // ParkOrder: the optimized SQS integration, the start queue, the step's delay, the resume message.
    expect(text).toContain('states:::sqs:sendMessage');
    expect(text).toContain(startQueue);
    expect(text).toContain('\\"DelaySeconds.$\\":\\"$.payment.value.held.waitSeconds\\"');
    expect(text).toContain('\\"kind\\":\\"ResumeSaga\\"');
    expect(text).toContain('\\"holdUntil.$\\":\\"$.payment.value.held.until\\"');
    expect(text).not.toContain('AwaitPaymentProvider');
    express.template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [
        { Ref: express.stack.getLogicalId(express.stack.saga.stateMachine.role.node.defaultChild as never) },
      ],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['sqs:SendMessage']),
            Resource: { 'Fn::GetAtt': [startQueue, 'Arn'] },
          }),
        ]),
      },
    });
    express.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          PAYMENT_CIRCUIT_FAILURE_THRESHOLD: '3',
          PAYMENT_CIRCUIT_OPEN_SECONDS: '10',
          PAYMENT_HOLD_SECONDS: '1200',
          PAYMENT_RELEASE_PER_SECOND: '7',
        }),
      },
    });
  });

  it('refuses a STANDARD execution timeout that a payment hold could outlast', () => {
    expect(
      () =>
        new Saga(new Stack(), 'Saga', {
          table: new dynamodb.Table(new Stack(), 'T', {
            partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
          }),
          bus: events.EventBus.fromEventBusName(new Stack(), 'B', 'bus'),
          paymentProvider: {
            kind: 'external',
            url: 'https://provider.example',
            secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:p-AbCdEf',
          },
          paymentHold: Duration.minutes(20),
          executionTimeout: Duration.minutes(20),
        }),
    ).toThrow('executionTimeout must be longer than paymentHold');
  });
});

describe('settlement export', () => {
  it('runs as a STANDARD state machine (RedriveExecution) that loops over pages, then assembles and delivers', () => {
    const machine = synth.stack.settlement.stateMachine;
    const id = synth.stack.getLogicalId(machine.node.defaultChild as never);
    const properties = resources[id]?.Properties ?? {};
    expect(properties.StateMachineType).toBe('STANDARD');
    const definition = JSON.stringify(properties.DefinitionString);
    for (const state of ['PlanExport', 'ExportPage', 'MorePages', 'AssembleFile', 'DeliverFile']) {
      expect(definition).toContain(state);
    }
  });

  it('starts once a day per partner, in the configured time zone, with the scheduled time', () => {
    const schedules = ofType('AWS::Scheduler::Schedule').filter(([id]) => id.startsWith('Settlement'));
    expect(schedules).toHaveLength(1);
    const [, schedule] = schedules[0] ?? [];
    expect(schedule?.Properties.ScheduleExpression).toBe('cron(30 1 * * ? *)');
    expect(schedule?.Properties.ScheduleExpressionTimezone).toBe('UTC');
    const target = schedule?.Properties.Target as { Input: string; Arn: unknown };
    expect(refId(target.Arn)).toBe(
      synth.stack.getLogicalId(synth.stack.settlement.stateMachine.node.defaultChild as never),
    );
    expect(JSON.parse(target.Input)).toEqual({
      partner: 'acquirer',
      scheduledTime: '<aws.scheduler.scheduled-time>',
    });
  });

  it('keeps the files in an encrypted, versioned, SSL-only bucket with no public access', () => {
    const id = synth.stack.getLogicalId(synth.stack.settlement.bucket.node.defaultChild as never);
    const bucket = resources[id]?.Properties ?? {};
    expect(bucket.BucketEncryption).toBeDefined();
    expect(bucket.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.PublicAccessBlockConfiguration).toMatchObject({
      BlockPublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const policies = ofType('AWS::S3::BucketPolicy').map(([, p]) => JSON.stringify(p.Properties));
    expect(policies.some((p) => p.includes('aws:SecureTransport'))).toBe(true);
  });

  it('reads the day through the Settled index and never scans', () => {
    const statements = ofType('AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('SettlementPageRole'))
      .flatMap(
        ([, p]) => (p.Properties.PolicyDocument as { Statement: Array<{ Action: unknown }> }).Statement,
      );
    const actions = statements.flatMap((st) => [st.Action].flat());
    expect(actions).toContain('dynamodb:Query');
    expect(actions).not.toContain('dynamodb:Scan');
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('has no unacknowledged findings', () => {
    expect(
      synth.nag.violations.map((v) => `${v.ruleName} @ ${v.violatingConstructs[0]?.constructPath}`),
    ).toEqual([]);
  });

  it('gives every acknowledged finding a written reason', () => {
    // Not vacuous: the stack acknowledges findings today (AwsSolutions-IAM5 where IAM has no resource-level scope).
    expect(synth.nag.suppressedViolations.length).toBeGreaterThan(0);
    for (const v of synth.nag.suppressedViolations) expect(v.reason.length, v.ruleName).toBeGreaterThan(30);
  });
});

describe('the stack in the account', () => {
  it('describes itself and tags every taggable resource for cost allocation', () => {
    expect(synth.template.toJSON().Description).toBe(STACK_DESCRIPTION);
    const tagged = Object.entries(resources).filter(([, r]) => r.Properties?.Tags !== undefined);
    // Functions, queues, the table, the bus, the state machine, roles, log groups at least.
    expect(tagged.length).toBeGreaterThan(20);
    for (const type of [
      'AWS::Lambda::Function',
      'AWS::SQS::Queue',
      'AWS::DynamoDB::Table',
      'AWS::IAM::Role',
    ]) {
      const [id, resource] = ofType(type)[0] ?? [];
      expect(tagsOf(resource?.Properties?.Tags), `${type} ${id}`).toMatchObject({
        project: 'buzzer',
        stack: 'Buzzer',
      });
    }
  });
});

/** Tags as CloudFormation writes them: a list of `{ Key, Value }` for most types, a map for a few (e.g. SSM). */
function tagsOf(tags: unknown): Record<string, string> {
  if (Array.isArray(tags)) {
    return Object.fromEntries((tags as Array<{ Key: string; Value: string }>).map((t) => [t.Key, t.Value]));
  }
  return (tags ?? {}) as Record<string, string>;
}
