import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { EVENT_SOURCE } from '#contracts/events.ts';

/** The custom bus that carries Buzzer's facts (`OrderPlaced`, `OrderConfirmed`, `OrderCancelled`). */
export class EventBus extends Construct {
  public readonly bus: events.EventBus;
  /** The `source` of every event Buzzer publishes. */
  public static readonly SOURCE = EVENT_SOURCE;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus');
  }
}
