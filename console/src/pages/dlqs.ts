/** Dead-letter queues: depth of each, peek at one (`buzzer dlq peek`), redrive one (`buzzer dlq redrive`). */
import { html, nothing } from 'lit';
import type { PeekResult, RedriveResult } from '../../../ops/cli/dlq.ts';
import type { DlqStatus } from '../../../ops/cli/status.ts';
import { getJson, postJson } from '../api.ts';
import { empty, freshness, time } from '../format.ts';
import { Page } from '../page.ts';
import { Poller } from '../poll.ts';

const messages = (n: number) => `${n} ${n === 1 ? 'message' : 'messages'}`;

class DlqsPage extends Page {
  private readonly dlqs = new Poller(this, () => getJson<{ dlqs: DlqStatus[] }>('dlqs'));
  private peeked: PeekResult | undefined;

  private peek(alias: string) {
    return this.act(
      `peek ${alias}`,
      async () => {
        this.peeked = await getJson<PeekResult>(`dlqs/${encodeURIComponent(alias)}`);
        return this.peeked;
      },
      (r) => `Showing ${messages(r.messages.length)} of the ${r.queue} DLQ (left in place).`,
    );
  }

  private redrive(alias: string) {
    return this.act(
      `redrive ${alias}`,
      () => postJson<RedriveResult>(`dlqs/${encodeURIComponent(alias)}/redrive`),
      (r) => {
        if (this.peeked?.queue === r.queue) this.peeked = undefined;
        this.dlqs.refresh();
        return `Moved ${messages(r.moved)} from the ${r.queue} DLQ back to its queue (${r.status ?? r.mode}).`;
      },
    );
  }

  override render() {
    const rows = this.dlqs.value?.dlqs ?? [];
    return html`
      <h2 tabindex="-1">Dead-letter queues</h2>
      ${freshness(this.dlqs)}
      <table>
        <caption>Messages their consumer gave up on, by queue</caption>
        <thead><tr><th scope="col">Queue</th><th scope="col">Messages</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          ${empty(rows, 'No queues.', 3)}
          ${rows.map(
            (d) => html`<tr class=${d.depth > 0 ? 'attention' : ''}>
              <th scope="row">${d.alias}</th>
              <td>${messages(d.depth)}</td>
              <td class="actions">
                <button type="button" aria-label=${`Peek ${d.alias}`} ?disabled=${this.busy !== undefined || d.depth === 0}
                  @click=${() => this.peek(d.alias)}>Peek</button>
                <button type="button" aria-label=${`Redrive ${d.alias}`}
                  ?disabled=${this.busy !== undefined || d.depth === 0 || d.source === null}
                  title=${d.source === null ? 'No source queue: see the runbook' : `Back to ${d.source}`}
                  @click=${() => this.redrive(d.alias)}>Redrive</button>
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${this.actionStatus()}
      ${this.peeked ? this.renderPeek(this.peeked) : nothing}
    `;
  }

  private renderPeek(peek: PeekResult) {
    return html`
      <h3>Messages in the ${peek.queue} DLQ</h3>
      <table>
        <caption>Up to 10 messages, personal data redacted</caption>
        <thead>
          <tr><th scope="col">Type</th><th scope="col">Order</th><th scope="col">Sent</th><th scope="col">Receives</th><th scope="col">Consumer</th><th scope="col">Last error</th></tr>
        </thead>
        <tbody>
          ${empty(peek.messages, 'Empty.', 6)}
          ${peek.messages.map(
            (m) => html`<tr>
              <th scope="row">${m.messageType ?? '–'}</th>
              <td>${m.orderId ? html`<a class="mono" href=${`#/orders/${m.orderId}`}>${m.orderId}</a>` : '–'}</td>
              <td>${time(m.sentAt)}</td>
              <td>${m.receiveCount ?? '–'}</td>
              <td>${m.consumer}</td>
              <td>${m.lastError ?? '–'}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    `;
  }
}

customElements.define('buzzer-dlqs', DlqsPage);
