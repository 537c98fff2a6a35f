/** Failed sagas: executions that failed, timed out or were aborted, and redriving one (`buzzer saga redrive`). */
import { html } from 'lit';
import type { RecoveryOutcome } from '../../../functions/operations/recovery.ts';
import type { ExecutionStatusRow, StatusReport } from '../../../ops/cli/status.ts';
import { getJson, postJson } from '../api.ts';
import { empty, freshness, status, time } from '../format.ts';
import { Page } from '../page.ts';
import { Poller } from '../poll.ts';

class SagasPage extends Page {
  private readonly sagas = new Poller(this, () => getJson<StatusReport['saga']>('sagas'), 2000);

  private redrive(row: ExecutionStatusRow) {
    return this.act(
      `redrive ${row.name}`,
      () => postJson<RecoveryOutcome>('sagas/redrive', { executionArn: row.executionArn }),
      (r) => {
        this.sagas.refresh();
        return `Order ${r.orderId}: ${r.action} — ${r.reason}`;
      },
    );
  }

  private rows(rows: ExecutionStatusRow[], caption: string, actions: boolean) {
    return html`<table>
      <caption>${caption}</caption>
      <thead>
        <tr><th scope="col">Execution</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Stopped</th><th scope="col">Order</th>${actions ? html`<th scope="col">Actions</th>` : ''}</tr>
      </thead>
      <tbody>
        ${empty(rows, 'None.', actions ? 6 : 5)}
        ${rows.map(
          (e) => html`<tr class=${e.orderStatus === 'PENDING' ? 'attention' : ''}>
            <th scope="row" class="mono">${e.name}</th>
            <td>${status(e.status)}</td>
            <td>${time(e.startDate)}</td>
            <td>${time(e.stopDate)}</td>
            <td>${e.orderId ? html`<a class="mono" href=${`#/orders/${e.orderId}`}>${e.orderId}</a> ${status(e.orderStatus)}` : '–'}</td>
            ${
              actions
                ? html`<td><button type="button" aria-label=${`Redrive ${e.name}`} ?disabled=${this.busy !== undefined || e.orderStatus !== 'PENDING'}
                  title=${e.orderStatus === 'PENDING' ? 'Redrive or restart the saga' : 'The order has ended: nothing to redrive'}
                  @click=${() => this.redrive(e)}>Redrive</button></td>`
                : ''
            }
          </tr>`,
        )}
      </tbody>
    </table>`;
  }

  override render() {
    const saga = this.sagas.value;
    return html`
      <h2 tabindex="-1">Failed sagas</h2>
      ${freshness(this.sagas)}
      ${saga?.note ? html`<p class="muted">${saga.note}</p>` : ''}
      ${this.rows(saga?.failed ?? [], `Executions (${saga?.workflowType ?? '…'}) failed in the last 24 hours; those whose order is still PENDING need a redrive`, true)}
      ${this.actionStatus()}
      <h3>Running for more than 5 minutes</h3>
      ${this.rows(saga?.stuck ?? [], 'Executions still running after 5 minutes', false)}
    `;
  }
}

customElements.define('buzzer-sagas', SagasPage);
