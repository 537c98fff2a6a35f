/**
 * The Buzzer web console: one page per operator concern, chosen by the URL's hash (`#/orders`, `#/dlqs`, …), so
 * every page has a link and the browser's back button works. Each page polls the console API while it is shown.
 */
import './style.css';
import { html, LitElement, nothing } from 'lit';
import { type ConsoleConfig, getJson, signOut, signsIn } from './api.ts';
import './pages/dlqs.ts';
import './pages/order.ts';
import './pages/orders.ts';
import './pages/outbox.ts';
import './pages/sagas.ts';
import './pages/webhooks.ts';

const PAGES = [
  { path: 'orders', title: 'Orders' },
  { path: 'dlqs', title: 'Dead-letter queues' },
  { path: 'sagas', title: 'Failed sagas' },
  { path: 'webhooks', title: 'Webhooks' },
  { path: 'outbox', title: 'Outbox relay' },
] as const;

interface Route {
  page: (typeof PAGES)[number]['path'];
  orderId?: string;
}

function routeOf(hash: string): Route | undefined {
  const [page, id] = hash.replace(/^#\/?/, '').split('/');
  if (page === 'orders' && id) return { page: 'orders', orderId: decodeURIComponent(id) };
  return PAGES.find((p) => p.path === page) ? { page: page as Route['page'] } : undefined;
}

class BuzzerConsole extends LitElement {
  private route: Route = routeOf(location.hash) ?? { page: 'orders' };
  private config: ConsoleConfig | undefined;
  private configError: string | undefined;
  /** Deployed behind the operators' sign-in: the header offers to sign out. */
  private signedIn = false;

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  private readonly onHash = () => {
    // Other hashes (the skip link's #main) are in-page links, not pages.
    const route = routeOf(location.hash);
    if (!route) return;
    this.route = route;
    this.requestUpdate();
    // A new page: move focus to its heading, so keyboard and screen reader users start there.
    void this.updateComplete.then(() => this.querySelector<HTMLElement>('main h2')?.focus());
  };

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('hashchange', this.onHash);
    void signsIn().then(
      (signedIn) => {
        this.signedIn = signedIn;
        this.requestUpdate();
      },
      () => {},
    );
    getJson<ConsoleConfig>('config').then(
      (config) => {
        this.config = config;
        this.requestUpdate();
      },
      (error: unknown) => {
        this.configError = String(error);
        this.requestUpdate();
      },
    );
  }

  override disconnectedCallback(): void {
    window.removeEventListener('hashchange', this.onHash);
    super.disconnectedCallback();
  }

  private page() {
    const config = this.config;
    if (!config) return html`<p>${this.configError ?? 'Loading…'}</p>`;
    switch (this.route.page) {
      case 'orders':
        return this.route.orderId
          ? html`<buzzer-order .orderId=${this.route.orderId}></buzzer-order>`
          : html`<buzzer-orders .clients=${config.clients}></buzzer-orders>`;
      case 'dlqs':
        return html`<buzzer-dlqs></buzzer-dlqs>`;
      case 'sagas':
        return html`<buzzer-sagas></buzzer-sagas>`;
      case 'webhooks':
        return html`<buzzer-webhooks .clients=${config.clients}></buzzer-webhooks>`;
      case 'outbox':
        return html`<buzzer-outbox></buzzer-outbox>`;
    }
  }

  override render() {
    return html`
      <header>
        <h1>Buzzer console</h1>
        ${
          this.config
            ? html`<p class="muted">${this.config.stackName} · ${this.config.kind} · ${this.config.region}</p>`
            : nothing
        }
        ${this.signedIn ? html`<button type="button" @click=${() => void signOut()}>Sign out</button>` : nothing}
      </header>
      <nav aria-label="Console pages">
        <ul>
          ${PAGES.map(
            (p) =>
              html`<li>
                <a href=${`#/${p.path}`} aria-current=${this.route.page === p.path ? 'page' : nothing}>${p.title}</a>
              </li>`,
          )}
        </ul>
      </nav>
      <main id="main" tabindex="-1">${this.page()}</main>
    `;
  }
}

customElements.define('buzzer-console', BuzzerConsole);
