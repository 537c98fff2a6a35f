/** One order's full story, what `buzzer order <id>` prints: timeline, events, saga executions, outbox, effects. */
import { html, nothing } from 'lit';
import type { OrderStory } from '../../../ops/cli/order.ts';
import { getJson } from '../api.ts';
import { empty, freshness, status, time, timeline } from '../format.ts';
import { Page } from '../page.ts';
import { Poller } from '../poll.ts';

type Item = Record<string, unknown>;
const text = (value: unknown): string => (value === undefined || value === null ? '–' : String(value));

class OrderPage extends Page {
  static override properties = { orderId: { attribute: false } };
  declare orderId: string;

  private readonly story = new Poller(
    this,
    () => getJson<OrderStory>(`orders/${encodeURIComponent(this.orderId)}`),
    2000,
  );

  protected override willUpdate(changed: Map<string, unknown>): void {
    // Another order in the same element (a link from one story to another): show nothing of the last one.
    if (changed.has('orderId') && changed.get('orderId') !== undefined) this.story.refresh(true);
  }

  override render() {
    const story = this.story.value;
    const order = (story?.order ?? {}) as Item;
    const steps = Array.isArray(order.timeline) ? (order.timeline as Parameters<typeof timeline>[0]) : [];
    return html`
      <p><a href="#/orders">← All orders</a></p>
      <h2 tabindex="-1">Order <span class="mono">${this.orderId}</span></h2>
      ${freshness(this.story)}
      ${
        story
          ? html`
            <dl class="summary">
              <dt>Status</dt><dd>${status(story.status)}</dd>
              <dt>Client</dt><dd>${text(order.clientId)}</dd>
              <dt>Amount</dt><dd>${text(order.amount)} ${text(order.currency)}</dd>
              <dt>Created</dt><dd>${time(order.createdAt as string)}</dd>
              <dt>Failure</dt><dd>${text(order.failureReason)}</dd>
              <dt>Correlation id</dt><dd class="mono">${text(story.correlationId)}</dd>
            </dl>
            <h3>Saga timeline</h3>
            ${timeline(steps)}
            <h3>Story</h3>
            <table>
              <caption>Everything that happened to the order, in time order</caption>
              <thead><tr><th scope="col">At</th><th scope="col">Who</th><th scope="col">What</th></tr></thead>
              <tbody>
                ${empty(story.events, 'Nothing yet.', 3)}
                ${story.events.map((e) => html`<tr><td>${time(e.at)}</td><td>${e.source}</td><td>${e.what}</td></tr>`)}
              </tbody>
            </table>
            <h3>Saga executions</h3>
            <table>
              <caption>Step Functions executions of the order's saga</caption>
              <thead><tr><th scope="col">Execution</th><th scope="col">Status</th><th scope="col">Steps</th><th scope="col">Error</th></tr></thead>
              <tbody>
                ${empty(story.executions, 'No execution found.', 4)}
                ${story.executions.map(
                  (e) => html`<tr>
                    <th scope="row" class="mono">${e.name}</th>
                    <td>${status(e.status)}</td>
                    <td>${e.steps.map((s) => `${s.state} ${s.outcome}${s.retries ? ` (${s.retries} retries)` : ''}`).join(' → ')}</td>
                    <td>${e.error ?? '–'}</td>
                  </tr>`,
                )}
              </tbody>
            </table>
            <h3>Outbox events</h3>
            <table>
              <caption>Events the order wrote in its transactions, and whether the relay published them</caption>
              <thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Published</th></tr></thead>
              <tbody>
                ${empty(story.outbox, 'None.', 4)}
                ${story.outbox.map(
                  (o) => html`<tr>
                    <th scope="row">${text(o.messageType)}</th><td>${status(o.status as string)}</td>
                    <td>${time(o.createdAt as string)}</td><td>${time(o.publishedAt as string)}</td>
                  </tr>`,
                )}
              </tbody>
            </table>
            <h3>Worker effects</h3>
            <table>
              <caption>What the idempotent consumers (mail, points) did for the order's events</caption>
              <thead><tr><th scope="col">Consumer</th><th scope="col">Status</th><th scope="col">At</th></tr></thead>
              <tbody>
                ${empty(story.effects, 'None yet.', 3)}
                ${story.effects.map(
                  (e) =>
                    html`<tr><th scope="row">${text(e.consumer)}</th><td>${status(e.status as string)}</td><td>${time(e.at as string)}</td></tr>`,
                )}
              </tbody>
            </table>
            <p>Points: ${story.points ? `${text(story.points.points)} credited` : 'none credited'} · Webhook deliveries: ${story.webhookDeliveries.length}</p>
            ${story.notes.length > 0 ? html`<ul class="notes">${story.notes.map((n) => html`<li>${n}</li>`)}</ul>` : nothing}
          `
          : nothing
      }
    `;
  }
}

customElements.define('buzzer-order', OrderPage);
