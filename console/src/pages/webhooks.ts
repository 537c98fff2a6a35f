/**
 * Webhooks: a client's endpoints with their latest delivery attempts (`buzzer webhooks list`), and replaying an
 * endpoint's FAILED deliveries (`buzzer webhooks replay`, what the client's `POST /webhooks/{id}/enable` does).
 */
import { html } from 'lit';
import type { WebhooksResult } from '../../../ops/cli/webhooks.ts';
import { getJson, postJson } from '../api.ts';
import { empty, freshness, status, time } from '../format.ts';
import { Page } from '../page.ts';
import { Poller } from '../poll.ts';

class WebhooksPage extends Page {
  static override properties = { clients: { attribute: false } };
  declare clients: string[];
  private client: string | undefined;

  private readonly webhooks = new Poller(
    this,
    async () => {
      const client = this.selected();
      return client ? getJson<WebhooksResult>(`webhooks?client=${encodeURIComponent(client)}`) : undefined;
    },
    2000,
  );

  private selected(): string | undefined {
    return this.client ?? this.clients?.[0];
  }

  private pick(event: Event) {
    const value = (event.target as HTMLInputElement).value.trim();
    this.client = value === '' ? undefined : value;
    this.webhooks.refresh(true);
  }

  private replay(webhookId: string) {
    const client = this.selected() ?? '';
    return this.act(
      `replay ${webhookId}`,
      () =>
        postJson<{ replayed: number; more: boolean }>(
          `webhooks/${encodeURIComponent(client)}/${encodeURIComponent(webhookId)}/replay`,
        ),
      (r) => {
        this.webhooks.refresh();
        return `Endpoint ${webhookId} enabled; ${r.replayed} FAILED deliveries queued again${r.more ? ' (more wait: replay again)' : ''}.`;
      },
    );
  }

  override render() {
    const result = this.webhooks.value;
    return html`
      <h2 tabindex="-1">Webhooks</h2>
      <form class="filters" @submit=${(e: Event) => e.preventDefault()}>
        <label for="webhooks-client">Client</label>
        <input id="webhooks-client" list="webhooks-clients" .value=${this.selected() ?? ''} @change=${this.pick}
          autocomplete="off" spellcheck="false" />
        <datalist id="webhooks-clients">${(this.clients ?? []).map((c) => html`<option value=${c}></option>`)}</datalist>
      </form>
      ${freshness(this.webhooks)}
      ${this.actionStatus()}
      ${result && result.endpoints.length === 0 ? html`<p>Client ${result.clientId} has no webhook endpoints.</p>` : ''}
      ${(result?.endpoints ?? []).map(
        (e) => html`<section aria-labelledby=${`webhook-${e.webhookId}`}>
          <h3 id=${`webhook-${e.webhookId}`}><span class="mono">${e.url}</span> ${status(e.status)}</h3>
          <p>
            Events ${e.events.join(', ')} · ${e.failedDeliveries} FAILED deliveries
            ${e.disabledReason ? html` · disabled: ${e.disabledReason}` : ''}
            <button type="button" aria-label=${`Replay the FAILED deliveries of ${e.url}`}
              ?disabled=${this.busy !== undefined || (e.failedDeliveries === 0 && e.status === 'ENABLED')}
              @click=${() => this.replay(e.webhookId)}>Enable and replay FAILED deliveries</button>
          </p>
          <table>
            <caption>Latest delivery attempts, newest first</caption>
            <thead><tr><th scope="col">At</th><th scope="col">Event</th><th scope="col">Order</th><th scope="col">Attempt</th><th scope="col">Outcome</th><th scope="col">Error</th></tr></thead>
            <tbody>
              ${empty(e.attempts, 'No attempts yet.', 6)}
              ${e.attempts.map(
                (a) => html`<tr>
                  <td>${time(a.at)}</td><td>${a.eventType}</td>
                  <td><a class="mono" href=${`#/orders/${a.orderId}`}>${a.orderId}</a></td>
                  <td>${a.attempt}</td><td>${status(a.outcome)} ${a.statusCode ?? ''}</td><td>${a.error ?? '–'}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        </section>`,
      )}
    `;
  }
}

customElements.define('buzzer-webhooks', WebhooksPage);
