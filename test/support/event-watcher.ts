/**
 * A client of GET /events as a careful script would write it: it follows the stream, reconnects after every
 * drop with the Last-Event-ID it last saw, and keeps what it was told (order states, gaps) in the order it was
 * told. Fault tests use it to check that the stream never misses something silently: whatever it did not
 * deliver, it announced as a gap.
 */

export interface WatchedItem {
  /** The position in everything this watcher received (events and gaps alike). */
  index: number;
  kind: 'event' | 'gap';
  /** When it arrived (epoch ms). */
  at: number;
  id: string | undefined;
  topic: string;
  data: unknown;
}

export class EventWatcher {
  readonly items: WatchedItem[] = [];
  connections = 0;
  private lastEventId: string | undefined;
  private stopped = false;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;

  /** `base` is asked on every connection: the service may move (a restart on the same port keeps it). */
  constructor(
    private readonly base: () => string,
    private readonly topics: readonly string[],
    private readonly headers: Record<string, string> = {},
  ) {}

  start(): void {
    this.loop = this.follow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await this.loop;
  }

  /** The order states received for `orderId`, each with its position. */
  orderStates(orderId: number): Array<{ index: number; status: string; filled: number }> {
    return this.items.flatMap((item) => {
      if (item.kind !== 'event' || item.topic !== 'orders') return [];
      const order = (item.data as { data?: { orderId?: number; status?: string; filled?: number } }).data;
      if (order?.orderId !== orderId) return [];
      return [{ index: item.index, status: order.status ?? '', filled: order.filled ?? 0 }];
    });
  }

  /** Whether a gap for `topic` was announced after position `after` and no earlier than `since` (epoch ms). */
  gapAfter(topic: string, after: number, since: number): boolean {
    return this.items.some(
      (item) =>
        item.kind === 'gap' &&
        item.index > after &&
        item.at >= since &&
        ((item.data as { topics?: string[] }).topics ?? []).includes(topic),
    );
  }

  get gaps(): number {
    return this.items.filter((item) => item.kind === 'gap').length;
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.connectOnce();
      } catch {
        // refused, reset or aborted: the service is restarting; try again shortly
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private async connectOnce(): Promise<void> {
    this.abort = new AbortController();
    const query = new URLSearchParams({ topics: this.topics.join(',') });
    const response = await fetch(`${this.base()}/events?${query.toString()}`, {
      headers: {
        accept: 'text/event-stream',
        ...this.headers,
        ...(this.lastEventId === undefined ? {} : { 'last-event-id': this.lastEventId }),
      },
      signal: this.abort.signal,
    });
    if (response.status !== 200 || response.body === null) {
      await response.body?.cancel();
      return;
    }
    this.connections++;
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of response.body) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let end = buffered.indexOf('\n\n');
      while (end !== -1) {
        this.receive(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\n\n');
      }
    }
  }

  private receive(frame: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return;
    if (id !== undefined && id !== '') this.lastEventId = id;
    this.items.push({
      index: this.items.length,
      at: Date.now(),
      kind: event === 'gap' ? 'gap' : 'event',
      id,
      topic: event,
      data: JSON.parse(data.join('\n')) as unknown,
    });
  }
}
