/**
 * The base of every page: rendered into the light DOM, so the one stylesheet applies and tests and assistive
 * technology see plain HTML; an `aria-live` line for what the last action did.
 */
import { html, LitElement, nothing } from 'lit';

export class Page extends LitElement {
  /** The outcome of the last action, announced politely. */
  protected message: { text: string; error: boolean } | undefined;
  /** Set while an action runs: its buttons are disabled meanwhile. */
  protected busy: string | undefined;

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  /** Runs an operator action, with its outcome (or error) in the live region. */
  protected async act<T>(name: string, action: () => Promise<T>, describe: (result: T) => string) {
    this.busy = name;
    this.message = undefined;
    this.requestUpdate();
    try {
      this.message = { text: describe(await action()), error: false };
    } catch (error) {
      this.message = { text: error instanceof Error ? error.message : String(error), error: true };
    } finally {
      this.busy = undefined;
      this.requestUpdate();
    }
  }

  protected actionStatus() {
    return html`<p class="action-status" role="status" aria-live="polite">
      ${this.message ? html`<span class=${this.message.error ? 'error' : ''}>${this.message.text}</span>` : nothing}
    </p>`;
  }
}
