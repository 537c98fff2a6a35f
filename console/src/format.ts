/** Small rendering helpers shared by the pages. */
import { html, nothing, type TemplateResult } from 'lit';
import type { Poller } from './poll.ts';

/** `12:03:04` of an ISO time, the full time in a tooltip and for screen readers' `datetime`. */
export function time(iso: string | null | undefined): TemplateResult | string {
  if (!iso) return '–';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return html`<time datetime=${iso} title=${iso}>${date.toLocaleTimeString('en-GB')}</time>`;
}

/** A status word with a class for its colour; the word itself carries the meaning. */
export function status(value: string | null | undefined): TemplateResult {
  const word = value ?? 'UNKNOWN';
  return html`<span class="status status-${word.toLowerCase()}">${word}</span>`;
}

const MARKS: Record<string, string> = { SUCCEEDED: '✓', FAILED: '✗', SKIPPED: '–', WAITING: '…' };

/** The saga timeline of an order: one list item per step, in order. */
export function timeline(steps: Array<{ step: string; status: string; at: string; detail?: string }>) {
  if (steps.length === 0) return html`<span class="muted">no steps yet</span>`;
  return html`<ol class="timeline">
    ${steps.map(
      (s) =>
        html`<li class="step-${s.status.toLowerCase()}" title=${`${s.at}${s.detail ? ` — ${s.detail}` : ''}`}>
          ${s.step} <span aria-hidden="true">${MARKS[s.status] ?? '·'}</span
          ><span class="visually-hidden">${s.status}</span>
        </li>`,
    )}
  </ol>`;
}

/** What every page shows under its heading: a load error, or when its data was last read. */
export function freshness(poller: Poller<unknown>): TemplateResult {
  if (poller.error) return html`<p class="error" role="alert">Could not load: ${poller.error}</p>`;
  return html`<p class="muted">
    ${poller.updatedAt ? html`Updated ${poller.updatedAt.toLocaleTimeString('en-GB')}, every few seconds.` : 'Loading…'}
  </p>`;
}

export function empty(rows: unknown[], text: string, columns: number): TemplateResult | typeof nothing {
  return rows.length === 0 ? html`<tr><td colspan=${columns} class="muted">${text}</td></tr>` : nothing;
}
