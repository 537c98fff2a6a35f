import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { BY_CLIENT_ATTRIBUTES, INDEXES, OPEN_ATTRIBUTES } from '#contracts/table.ts';

export interface DataProps {
  /**
   * What happens to the table when the stack is deleted.
   * @default RemovalPolicy.RETAIN: orders are business records.
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The single table that holds orders, their outbox, idempotency records, stock, API keys and consumer effects.
 * Its stream is the outbox feed (see docs/architecture.md for the item types).
 */
export class Data extends Construct {
  public readonly table: dynamodb.Table;
  /** GSI name for a client's orders. */
  public static readonly BY_CLIENT_INDEX = INDEXES.ByClient;
  /** Sparse GSI name for items that are not finished yet (open orders, outbox items the relay gave up on). */
  public static readonly OPEN_INDEX = INDEXES.Open;
  /** Sparse GSI name for terminal orders by the UTC day they ended on (the settlement export reads it). */
  public static readonly SETTLED_INDEX = INDEXES.Settled;

  constructor(scope: Construct, id: string, props: DataProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: Data.BY_CLIENT_INDEX,
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [...BY_CLIENT_ATTRIBUTES],
    });
    this.table.addGlobalSecondaryIndex({
      indexName: Data.OPEN_INDEX,
      partitionKey: { name: 'openPk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'openSk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [...OPEN_ATTRIBUTES],
    });
    // Only what a settlement line needs: the export reads the index alone (no read per order), and the customer's
    // name and e-mail are not copied into it.
    this.table.addGlobalSecondaryIndex({
      indexName: Data.SETTLED_INDEX,
      partitionKey: { name: 'settledPk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'settledSk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [
        'orderId',
        'clientId',
        'status',
        'amount',
        'currency',
        'paymentRef',
        'failureReason',
      ],
    });
  }
}
