/** Orders: a client's latest orders (or every PENDING one) with their saga timeline, as `buzzer orders` lists them. */
import { html } from 'lit';
import type { OrdersResult } from '../../../ops/cli/orders.ts';
import { getJson } from '../api.ts';
import { empty, freshness, status, time, timeline } from '../format.ts';
import { Page } from '../page.ts';
import { Poller } from '../poll.ts';

/** The picker's value for "no client": the PENDING orders of every client. */
const ALL_PENDING = '';

class OrdersPage extends Page {
  static override properties = { clients: { attribute: false } };
  declare clients: string[];
  private client: string | undefined;

  private readonly orders = new Poller(this, () => {
    const client = this.client ?? this.clients?.[0] ?? ALL_PENDING;
    return getJson<OrdersResult>(
      client === ALL_PENDING ? 'orders' : `orders?client=${encodeURIComponent(client)}`,
    );
  });

  private pick(event: Event) {
    this.client = (event.target as HTMLSelectElement).value;
    this.orders.refresh(true);
  }

  override render() {
    const result = this.orders.value;
    const selected = this.client ?? this.clients?.[0] ?? ALL_PENDING;
    const rows = result?.orders ?? [];
    return html`
      <h2 tabindex="-1">Orders</h2>
      <form class="filters" @submit=${(e: Event) => e.preventDefault()}>
        <label for="orders-client">Client</label>
        <select id="orders-client" @change=${this.pick}>
          ${(this.clients ?? []).map((c) => html`<option value=${c} ?selected=${c === selected}>${c}</option>`)}
          <option value=${ALL_PENDING} ?selected=${selected === ALL_PENDING}>every client, PENDING only</option>
        </select>
      </form>
      ${freshness(this.orders)}
      <table>
        <caption>
          ${result?.clientId ? `Latest orders of ${result.clientId}, newest first` : 'Orders still PENDING, oldest first'}
        </caption>
        <thead>
          <tr><th scope="col">Order</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Saga timeline</th></tr>
        </thead>
        <tbody>
          ${empty(rows, 'No orders.', 4)}
          ${rows.map(
            (o) => html`<tr>
              <th scope="row"><a href=${`#/orders/${o.orderId}`} class="mono">${o.orderId}</a></th>
              <td>${status(o.status)}${o.failureReason ? html` <span class="muted">${o.failureReason}</span>` : ''}</td>
              <td>${time(o.createdAt)}</td>
              <td>${timeline(o.timeline)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    `;
  }
}

customElements.define('buzzer-orders', OrdersPage);
