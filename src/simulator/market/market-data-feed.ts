import type { ClientSession } from '../protocol/client-session';
import type { FieldReader, WireContract } from '../protocol/field-reader';
import type { WireValue } from '../protocol/framing';
import { Request } from '../protocol/message-ids';
import type { SimulatorContext } from '../simulator-context';
import type { Instrument } from './instrument';
import type { Market } from './market';
import {
  MarketCode,
  MarketDataType,
  marketDataTypeMessage,
  MarketText,
  tickOptionComputationMessage,
  tickPriceMessage,
  tickRequestParametersMessage,
  tickSizeMessage,
  tickSnapshotEndMessage,
  tickStringMessage,
} from './market-data-messages';
import { streamTicks, type QuoteCache } from './market-data-ticks';
import { parseGenericTicks, tickGenericMessage } from './option-ticks';
import { resolveRequestContract } from './request-contract';

export interface MarketDataFeedOptions {
  /** How often streams send what changed; default 250 ms. */
  tickIntervalMs?: number;
  /** IB's market data lines per client; the next request gets error 101. Default 100. */
  maxTickersPerClient?: number;
  /** How late delayed data is; default 15 minutes. */
  delayMs?: number;
  /** A snapshot that cannot be served (frozen data, farm down) ends empty after this; IB's is 11 s. */
  snapshotTimeoutMs?: number;
}

interface Stream {
  tickerId: number;
  instrument: Instrument;
  delayed: boolean;
  /** The generic ticks asked for (100, 101, 104, 106 are answered). */
  generic: ReadonlySet<number>;
  /** What was last sent per tick type, so a cycle sends only what changed. */
  sent: Map<number, string>;
  /** The first full set went out (a stream opened while data was frozen is still waiting for it). */
  started: boolean;
  /** Frozen by a 'subscriptions' freeze: this stream never ticks again. */
  stalled?: boolean;
}

interface SessionState {
  requestedType: MarketDataType;
  /** Frozen by a 'connections' freeze: this connection never gets a tick again. */
  stalled?: boolean;
  streams: Map<number, Stream>;
  pendingSnapshots: Set<NodeJS.Timeout>;
}

interface MarketDataRequest {
  tickerId: number;
  contract: WireContract;
  snapshot: boolean;
  generic: ReadonlySet<number>;
}

/**
 * reqMktData and friends: resolves the contract, honours entitlements and the market data type like
 * IB, answers snapshots, and streams changed ticks on a timer while data flows and the market trades.
 */
export class MarketDataFeed {
  private readonly sessions = new Map<ClientSession, SessionState>();
  private readonly tickIntervalMs: number;
  private readonly maxTickers: number;
  private readonly delayMs: number;
  private readonly snapshotTimeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly onDataChanged = (): void => this.publishAll();
  private readonly onSubscriptionsLost = (): void => {
    for (const state of this.sessions.values()) state.streams.clear();
  };
  private readonly onSubscriptionsStalled = (): void => {
    for (const state of this.sessions.values())
      for (const stream of state.streams.values()) stream.stalled = true;
  };
  private readonly onConnectionsStalled = (): void => {
    for (const state of this.sessions.values()) state.stalled = true;
  };

  constructor(
    private readonly context: SimulatorContext,
    private readonly market: Market,
    options: MarketDataFeedOptions = {},
  ) {
    this.tickIntervalMs = options.tickIntervalMs ?? 250;
    this.maxTickers = options.maxTickersPerClient ?? 100;
    this.delayMs = options.delayMs ?? 15 * 60_000;
    this.snapshotTimeoutMs = options.snapshotTimeoutMs ?? 11_000;
  }

  register(): void {
    const server = this.context.server;
    server.on(Request.REQ_MARKET_DATA_TYPE, (session, request) => this.setMarketDataType(session, request));
    server.on(Request.REQ_MKT_DATA, (session, request) =>
      this.requestMarketData(session, readRequest(request)),
    );
    server.on(Request.CANCEL_MKT_DATA, (session, request) => {
      request.skip(1); // version
      this.cancel(session, request.int());
    });
    this.context.faults.on('market-data-changed', this.onDataChanged);
    this.context.faults.on('subscriptions-lost', this.onSubscriptionsLost);
    this.context.faults.on('subscriptions-stalled', this.onSubscriptionsStalled);
    this.context.faults.on('connections-stalled', this.onConnectionsStalled);
    this.timer = setInterval(() => this.publishAll(), this.tickIntervalMs);
    this.timer.unref();
  }

  /** Live streams over all clients. */
  activeSubscriptions(): number {
    let count = 0;
    for (const state of this.sessions.values()) count += state.streams.size;
    return count;
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.context.faults.off('market-data-changed', this.onDataChanged);
    this.context.faults.off('subscriptions-lost', this.onSubscriptionsLost);
    this.context.faults.off('subscriptions-stalled', this.onSubscriptionsStalled);
    this.context.faults.off('connections-stalled', this.onConnectionsStalled);
    for (const state of this.sessions.values()) this.forget(state);
    this.sessions.clear();
  }

  // ---- Requests ----

  private setMarketDataType(session: ClientSession, request: FieldReader): void {
    request.skip(1); // version
    const type = request.int();
    if (type >= MarketDataType.REALTIME && type <= MarketDataType.DELAYED_FROZEN) {
      this.stateOf(session).requestedType = type as MarketDataType;
    }
  }

  private requestMarketData(session: ClientSession, request: MarketDataRequest): void {
    const { tickerId } = request;
    const state = this.stateOf(session);
    if (state.streams.has(tickerId)) {
      session.sendError(tickerId, MarketCode.ERROR_PROCESSING_REQUEST, MarketText.duplicateTickerId);
      return;
    }
    if (request.snapshot && request.generic.size > 0) {
      session.sendError(tickerId, MarketCode.ERROR_VALIDATING_REQUEST, SNAPSHOT_WITH_GENERIC_TICKS);
      return;
    }
    const resolved = resolveRequestContract(this.market, request.contract);
    if ('error' in resolved) {
      session.sendError(tickerId, resolved.error.code, resolved.error.text);
      return;
    }
    const instrument = resolved.instrument;
    const delivery = this.delivery(instrument, state.requestedType);
    if ('error' in delivery) {
      session.sendError(tickerId, MarketCode.NOT_SUBSCRIBED, delivery.error);
      return;
    }
    if (!request.snapshot && state.streams.size >= this.maxTickers) {
      session.sendError(tickerId, MarketCode.MAX_TICKERS, MarketText.maxTickers);
      return;
    }
    session.send(tickRequestParametersMessage(tickerId, instrument.minTick, bboExchange(instrument), 3));
    if (delivery.delayed) {
      session.sendError(tickerId, MarketCode.DELAYED_DATA_DISPLAYED, MarketText.delayedDataDisplayed);
    }
    session.send(marketDataTypeMessage(tickerId, delivery.type));
    const stream: Stream = {
      tickerId,
      instrument,
      delayed: delivery.delayed,
      generic: request.generic,
      sent: new Map(),
      started: false,
    };
    if (request.snapshot) {
      this.answerSnapshot(session, state, stream);
      return;
    }
    state.streams.set(tickerId, stream);
    if (this.context.faults.marketDataFlowing && !state.stalled) this.publish(session, stream, new Map());
  }

  private answerSnapshot(session: ClientSession, state: SessionState, stream: Stream): void {
    if (this.context.faults.marketDataFlowing && !state.stalled) {
      this.publish(session, stream, new Map());
      session.send(tickSnapshotEndMessage(stream.tickerId));
      return;
    }
    // Nothing arrives from the farm: like TWS, give up after the snapshot timeout and end it empty.
    const timer = setTimeout(() => {
      state.pendingSnapshots.delete(timer);
      session.send(tickSnapshotEndMessage(stream.tickerId));
    }, this.snapshotTimeoutMs);
    state.pendingSnapshots.add(timer);
  }

  private cancel(session: ClientSession, tickerId: number): void {
    if (!this.stateOf(session).streams.delete(tickerId)) {
      session.sendError(tickerId, MarketCode.CANT_FIND_TICKER, MarketText.cantFindTicker(tickerId));
    }
  }

  /**
   * What IB delivers for a requested type: real-time data wins when entitled (frozen outside trading
   * hours for types 2 and 4); delayed-only instruments need type 3 or 4; unentitled ones get nothing.
   */
  private delivery(
    instrument: Instrument,
    requested: MarketDataType,
  ): { type: MarketDataType; delayed: boolean } | { error: string } {
    const wantsFrozen = requested === MarketDataType.FROZEN || requested === MarketDataType.DELAYED_FROZEN;
    switch (instrument.entitlement) {
      case 'none':
        return { error: MarketText.notSubscribed };
      case 'delayed': {
        if (requested === MarketDataType.REALTIME || requested === MarketDataType.FROZEN) {
          const exchange = instrument.primaryExchange || instrument.exchange;
          return { error: MarketText.notSubscribedDelayedAvailable(instrument.symbol, exchange) };
        }
        const trading = this.market.isTrading(instrument.conId, this.context.clock.now() - this.delayMs);
        const type = wantsFrozen && !trading ? MarketDataType.DELAYED_FROZEN : MarketDataType.DELAYED;
        return { type, delayed: true };
      }
      case 'realtime': {
        const trading = this.market.isTrading(instrument.conId);
        return {
          type: wantsFrozen && !trading ? MarketDataType.FROZEN : MarketDataType.REALTIME,
          delayed: false,
        };
      }
    }
  }

  // ---- Streaming ----

  private publishAll(): void {
    if (!this.context.faults.marketDataFlowing) return;
    const quotes: QuoteCache = new Map();
    for (const [session, state] of this.sessions) {
      if (state.stalled) continue;
      session.batch(() => {
        for (const stream of state.streams.values()) {
          if (stream.stalled) continue;
          // A closed market prints nothing new; the first full set still goes out.
          if (stream.started && !this.market.isTrading(stream.instrument.conId, this.dataTime(stream)))
            continue;
          this.publish(session, stream, quotes);
        }
      });
    }
  }

  /** Sends the ticks of `stream` that changed since it last sent them (all of them the first time). */
  private publish(session: ClientSession, stream: Stream, quotes: QuoteCache): void {
    const messages: WireValue[][] = [];
    const { sent, tickerId } = stream;
    const atMs = this.dataTime(stream);
    const ticks = streamTicks(this.market, stream.instrument, stream.delayed, atMs, quotes, stream.generic);
    for (const tick of ticks) {
      switch (tick.kind) {
        case 'price': {
          // TWS follows a price that carries a size with the size itself (the client drops BID_SIZE 0 otherwise).
          const price = String(tick.price);
          const sizeChanged = tick.sizeType !== undefined && sent.get(tick.sizeType) !== String(tick.size);
          if (sent.get(tick.type) !== price) {
            messages.push(tickPriceMessage(tickerId, tick.type, tick.price, tick.size ?? 0));
            sent.set(tick.type, price);
          }
          if (sizeChanged && tick.sizeType !== undefined && tick.size !== undefined) {
            messages.push(tickSizeMessage(tickerId, tick.sizeType, tick.size));
            sent.set(tick.sizeType, String(tick.size));
          }
          break;
        }
        case 'size':
          if (sent.get(tick.type) !== String(tick.size)) {
            messages.push(tickSizeMessage(tickerId, tick.type, tick.size));
            sent.set(tick.type, String(tick.size));
          }
          break;
        case 'string':
          if (sent.get(tick.type) !== tick.value) {
            messages.push(tickStringMessage(tickerId, tick.type, tick.value));
            sent.set(tick.type, tick.value);
          }
          break;
        case 'generic':
          if (sent.get(tick.type) !== String(tick.value)) {
            messages.push(tickGenericMessage(tickerId, tick.type, tick.value));
            sent.set(tick.type, String(tick.value));
          }
          break;
        case 'option': {
          const signature = JSON.stringify(tick.computation);
          if (sent.get(tick.type) !== signature) {
            messages.push(tickOptionComputationMessage(tickerId, tick.type, tick.computation));
            sent.set(tick.type, signature);
          }
          break;
        }
      }
    }
    stream.started = true;
    for (const message of messages) session.send(message);
  }

  private dataTime(stream: Stream): number {
    const now = this.context.clock.now();
    return stream.delayed ? now - this.delayMs : now;
  }

  // ---- Sessions ----

  private stateOf(session: ClientSession): SessionState {
    let state = this.sessions.get(session);
    if (!state) {
      const created: SessionState = {
        requestedType: MarketDataType.REALTIME,
        streams: new Map(),
        pendingSnapshots: new Set(),
      };
      state = created;
      this.sessions.set(session, created);
      session.onClose(() => {
        this.forget(created);
        this.sessions.delete(session);
      });
    }
    return state;
  }

  private forget(state: SessionState): void {
    state.streams.clear();
    for (const timer of state.pendingSnapshots) clearTimeout(timer);
    state.pendingSnapshots.clear();
  }
}

/** REQ_MKT_DATA v11: version, tickerId, contract, [BAG legs], delta-neutral, ticks, snapshot flags, options. */
function readRequest(request: FieldReader): MarketDataRequest {
  request.skip(1); // version
  const tickerId = request.int();
  const contract = request.contract();
  if (contract.secType.toUpperCase() === 'BAG') request.skip(4 * request.int());
  if (request.bool()) request.skip(3); // delta-neutral conId, delta, price
  const generic = parseGenericTicks(request.string());
  const snapshot = request.bool();
  const regulatorySnapshot = request.bool();
  return { tickerId, contract, snapshot: snapshot || regulatorySnapshot, generic };
}

/** IB's 321 for a snapshot that asks for generic ticks (error 414's text behind the 'bO' validation). */
const SNAPSHOT_WITH_GENERIC_TICKS =
  "Error validating request.-'bO' : cause - Snapshot market data subscription is not applicable to generic ticks";

/** The exchange code TWS reports as the request's BBO exchange (used with reqSmartComponents). */
function bboExchange(instrument: Instrument): string {
  return instrument.exchange === 'SMART' ? '9c0001' : instrument.exchange;
}
