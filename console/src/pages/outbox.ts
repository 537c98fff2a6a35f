/** The outbox relay: items it has not published, and replaying those it gave up on (`buzzer relay replay`). */
import { html } from 'lit';
import type { ReplayResult } from '../../../ops/cli/relay.ts';
import type { StatusReport } from '../../../ops/cli/status.ts';
import { getJson, postJson } from '../api.ts';
import { empty, freshness, status, time } from '../format.ts';
import { Page } from '../page.ts';
import { Poller } from '../poll.ts';

class OutboxPage extends Page {
  private readonly outbox = new Poller(this, () => getJson<StatusReport['outbox']>('outbox'), 2000);

  private replay() {
    return this.act(
      'replay',
      () => postJson<ReplayResult>('outbox/replay'),
      (r) => {
        this.outbox.refresh();
        return `Published ${r.replayed.length} item(s) again; ${r.skipped.length} skipped${r.tooOld ? `, ${r.tooOld} too old` : ''}.`;
      },
    );
  }

  override render() {
    const outbox = this.outbox.value;
    const rows = (outbox?.failed ?? []).map((o) => ({ ...o, state: 'FAILED', detail: o.lastError ?? '' }));
    // The relay DLQ also names stream batches the relay gave up on: their items are found by the replay, not listed.
    const replayable = (outbox?.failed.length ?? 0) + (outbox?.relayDlqDepth ?? 0);
    return html`
      <h2 tabindex="-1">Outbox relay</h2>
      ${freshness(this.outbox)}
      <p>
        <button type="button" ?disabled=${this.busy !== undefined || replayable === 0}
          @click=${() => this.replay()}>Replay items the relay gave up on</button>
      </p>
      ${this.actionStatus()}
      <table>
        <caption>Outbox items the relay gave up on (relay DLQ: ${outbox?.relayDlqDepth ?? 0} message(s), these and any stream batch it gave up on)</caption>
        <thead><tr><th scope="col">Type</th><th scope="col">Order</th><th scope="col">Created</th><th scope="col">State</th><th scope="col">Detail</th></tr></thead>
        <tbody>
          ${empty(rows, 'Everything is published.', 5)}
          ${rows.map(
            (o) => html`<tr>
              <th scope="row">${o.messageType}</th>
              <td><a class="mono" href=${`#/orders/${o.orderId}`}>${o.orderId}</a></td>
              <td>${time(o.createdAt)}</td>
              <td>${status(o.state)}</td>
              <td>${o.detail}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    `;
  }
}

customElements.define('buzzer-outbox', OutboxPage);
