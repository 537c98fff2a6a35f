/**
 * Keeps a page's data fresh without a reload: loads when the page appears, then again every `everyMs` while it is
 * shown. A page that changes what it shows (another client) calls `refresh()`; an answer to an older request is
 * dropped, so a slow one cannot overwrite a newer one.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';

export class Poller<T> implements ReactiveController {
  value: T | undefined;
  error: string | undefined;
  updatedAt: Date | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;
  private connected = false;

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly load: () => Promise<T>,
    private readonly everyMs = 1500,
  ) {
    host.addController(this);
  }

  hostConnected(): void {
    this.connected = true;
    this.refresh();
  }

  hostDisconnected(): void {
    this.connected = false;
    clearTimeout(this.timer);
  }

  /** Loads now (forgetting what is shown when `reset`), then keeps polling. */
  refresh(reset = false): void {
    clearTimeout(this.timer);
    if (reset) this.value = undefined;
    void this.tick(++this.generation);
  }

  private async tick(generation: number): Promise<void> {
    try {
      const value = await this.load();
      if (generation !== this.generation) return;
      this.value = value;
      this.error = undefined;
      this.updatedAt = new Date();
    } catch (error) {
      if (generation !== this.generation) return;
      this.error = error instanceof Error ? error.message : String(error);
    }
    this.host.requestUpdate();
    if (this.connected) this.timer = setTimeout(() => void this.tick(generation), this.everyMs);
  }
}
