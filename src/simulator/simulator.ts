import { Broker, type BrokerStateRestore } from './broker/broker';
import { GatewayLogin, type GatewayState } from './control/gateway-login';
import { formatTwsDateTime, SimulatorClock } from './control/simulator-clock';
import { Market } from './market/market';
import {
  registerMarketHandlers,
  type MarketHandlerOptions,
  type MarketHandlers,
} from './market/market-handlers';
import type { ClientSession } from './protocol/client-session';
import type { WireValue } from './protocol/framing';
import { Request } from './protocol/message-ids';
import {
  Code,
  currentTimeMessage,
  errorMessage,
  managedAccountsMessage,
  nextValidIdMessage,
  NO_REQUEST_ID,
  requireVersion,
  SystemMessage,
  userInfoMessage,
} from './protocol/messages';
import { TwsServer, type WireTap } from './protocol/tws-server';
import { ServerVersion } from './protocol/versions';
import { NewsBulletins } from './control/news-bulletins';
import { registerNewsHandlers } from './news/news-handlers';
import { registerWshHandlers } from './news/wsh-handlers';
import {
  FaultState,
  type DropOnNextOrder,
  type FreezeScope,
  type SimulatorContext,
} from './simulator-context';
import { VncServer } from './vnc/vnc-server';

export interface SimulatorOptions {
  /** Address of the API port; default 127.0.0.1. */
  host?: string;
  /** API port; 0 (the default) picks a free one. */
  port?: number;
  /** Seed of the market's random walk and every other random choice; default 42. */
  seed?: number;
  accounts?: string[];
  /** IB's per-client limit; default 50. */
  maxMessagesPerSecond?: number;
  /** First order id handed out by NEXT_VALID_ID; high, so order errors never hit a client's request ids. */
  nextOrderId?: number;
  /** Where the gateway starts; default logged in. */
  initialState?: GatewayState;
  /** A VNC server showing the gateway's status screen; off unless given. */
  vnc?: { port: number; host?: string; password?: string };
  /** Timers and limits of the market data feed (tick interval, line limit, ...). */
  marketData?: MarketHandlerOptions;
  /**
   * Where the simulated broker keeps its orders, executions, id counters and accounts, so that they survive
   * the simulator process (restored at start, written before every acknowledgement). Memory only without.
   */
  brokerStateFile?: string;
  log?: (line: string) => void;
}

export interface SimulatorStats {
  gatewayState: GatewayState;
  listening: boolean;
  connectedClients: { clientId: number; connectionId: number }[];
  pacingViolations: number;
  marketDataFrozen: boolean;
  marketFarmDown: boolean;
  refusingConnections: boolean;
  clock: string;
  clockIsReal: boolean;
  activeMarketDataSubscriptions: number;
  /** The armed one-shot order fault ({@link IbGatewaySimulator.dropConnectionsOnNextOrder}), or null. */
  dropConnectionsOnNextOrder: DropOnNextOrder | null;
}

const FARMS = { market: 'usfarm', hmds: 'ushmds', secDef: 'secdefnj' } as const;

/** One line on what the broker started from. */
export function describeBrokerState(restore: BrokerStateRestore): string {
  switch (restore.outcome) {
    case 'in-memory':
      return 'broker state: in memory only';
    case 'fresh':
      return `broker state: ${restore.path} (new)`;
    case 'restored':
      return (
        `broker state: restored ${restore.orders} orders and ${restore.executions} executions from ` +
        restore.path +
        (restore.skipped > 0
          ? ` (${restore.skipped} of instruments or accounts no longer listed left out)`
          : '')
      );
    case 'unreadable':
      return `broker state: ${restore.path} is unreadable (${restore.reason}); starting empty`;
  }
}

/**
 * An IB Gateway that @stoqey/ib cannot tell from the real one for everything this product uses.
 * Plain TypeScript: runs in-process, as a CLI command, and inside the simulator's Docker image.
 */
export class IbGatewaySimulator {
  readonly clock = new SimulatorClock();
  readonly faults = new FaultState();
  readonly login: GatewayLogin;
  readonly market: Market;
  readonly broker: Broker;
  readonly news: NewsBulletins;
  private readonly server: TwsServer;
  private readonly marketHandlers: MarketHandlers;
  private readonly vnc: VncServer | undefined;
  private readonly context: SimulatorContext;
  private pacingViolations = 0;
  private refuseTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private restore: BrokerStateRestore | undefined;

  constructor(private readonly options: SimulatorOptions = {}) {
    const log = options.log ?? (() => undefined);
    this.login = new GatewayLogin(options.initialState ?? 'logged-in');
    this.server = new TwsServer({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      maxMessagesPerSecond: options.maxMessagesPerSecond ?? 50,
      connectionTime: () => formatTwsDateTime(this.clock.now()),
      isAcceptingApiClients: () => this.login.isLoggedIn,
      onSessionStarted: (session) => this.welcome(session),
      onPacingViolation: () => this.pacingViolations++,
      log,
    });
    this.context = {
      server: this.server,
      clock: this.clock,
      faults: this.faults,
      accounts: options.accounts ?? ['DU1234567'],
      seed: options.seed ?? 42,
      log,
    };
    this.market = new Market({ seed: this.context.seed, clock: this.clock });
    this.marketHandlers = registerMarketHandlers(this.context, this.market, options.marketData);
    registerNewsHandlers(this.context, this.market);
    this.broker = new Broker(this.context, this.market, {
      nextOrderId: options.nextOrderId ?? 1000,
      stateFile: options.brokerStateFile,
    });
    this.broker.register();
    this.news = new NewsBulletins(this.server);
    this.registerSystemHandlers();
    this.login.on('state', (state) => {
      if (state !== 'logged-in') this.server.dropAllConnections();
      this.vnc?.refresh();
    });
    this.vnc = options.vnc
      ? new VncServer({
          host: options.vnc.host ?? '127.0.0.1',
          port: options.vnc.port,
          password: options.vnc.password,
          title: 'IB Gateway (simulator)',
          statusLines: () => this.statusLines(),
        })
      : undefined;
  }

  /** Restores the broker's saved state (once), then starts listening; resolves with the API port. */
  async start(): Promise<number> {
    if (!this.restore) {
      this.restore = this.broker.restoreState();
      this.context.log(describeBrokerState(this.restore));
    }
    const port = await this.server.listen();
    if (this.vnc) await this.vnc.listen();
    return port;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.refuseTimer) clearTimeout(this.refuseTimer);
    this.login.dispose();
    this.marketHandlers.dispose();
    this.broker.dispose();
    await Promise.all([this.server.close(), this.vnc?.close()]);
  }

  /** What the broker started from (after {@link start}): memory, a new or a restored state file. */
  get brokerStateRestore(): BrokerStateRestore | undefined {
    return this.restore;
  }

  get port(): number {
    return this.server.port;
  }

  get vncPort(): number | undefined {
    return this.vnc?.port;
  }

  /** Observes every message in both directions (fidelity tests, debugging). Returns the remover. */
  tap(tap: WireTap): () => void {
    return this.server.addTap(tap);
  }

  // ---- Fault injection: the control surface ----

  /**
   * Ticks stop; the socket stays up and answers everything else. The scope says what a client must do to
   * see ticks again: 'gateway' (default) nothing short of unfreezing or a gateway restart, 'subscriptions'
   * request the data again, 'connections' reconnect. Unfreezing ends a 'gateway' freeze only.
   */
  freezeMarketData(frozen = true, scope: FreezeScope = 'gateway'): void {
    if (scope === 'subscriptions') {
      if (frozen) this.faults.emit('subscriptions-stalled');
      return;
    }
    if (scope === 'connections') {
      if (frozen) this.faults.emit('connections-stalled');
      return;
    }
    this.faults.marketDataFrozen = frozen;
    this.faults.emit('market-data-changed');
    this.vnc?.refresh();
  }

  dropConnections(): void {
    this.server.dropAllConnections();
  }

  /**
   * One-shot: the next new order (not a what-if, not a modification) drops every API connection, either
   * before the broker looks at it (it is never placed) or once it is accepted and saved but before any
   * message about it is sent (placed, acknowledgement lost). undefined disarms.
   */
  dropConnectionsOnNextOrder(when: DropOnNextOrder | undefined): void {
    this.faults.dropOnNextOrder = when;
  }

  /** Stops listening for `durationMs` (clients see ECONNREFUSED), then listens again on the same port. */
  async refuseConnections(durationMs: number): Promise<void> {
    if (this.refuseTimer) clearTimeout(this.refuseTimer);
    await this.server.close();
    this.refuseTimer = setTimeout(() => {
      this.refuseTimer = undefined;
      if (!this.stopped) this.server.listen().catch((error: unknown) => this.context.log(String(error)));
    }, durationMs);
  }

  /** The market data farm goes down (2103): ticks stop until {@link restoreMarketFarm}. */
  marketFarmOutage(): void {
    this.faults.marketFarmDown = true;
    this.server.broadcast(
      errorMessage(NO_REQUEST_ID, Code.MARKET_FARM_BROKEN, SystemMessage.marketFarmBroken(FARMS.market)),
    );
    this.faults.emit('market-data-changed');
    this.vnc?.refresh();
  }

  restoreMarketFarm(): void {
    this.faults.marketFarmDown = false;
    this.server.broadcast(
      errorMessage(NO_REQUEST_ID, Code.MARKET_FARM_OK, SystemMessage.marketFarmOk(FARMS.market)),
    );
    this.faults.emit('market-data-changed');
    this.vnc?.refresh();
  }

  /** IB's servers are unreachable from the gateway (1100). */
  connectivityLost(): void {
    this.faults.marketFarmDown = true;
    this.server.broadcast(
      errorMessage(NO_REQUEST_ID, Code.CONNECTIVITY_LOST, SystemMessage.connectivityLost),
    );
    this.faults.emit('market-data-changed');
  }

  /** Connectivity is back: 1102 keeps subscriptions, 1101 loses them (clients must resubscribe). */
  connectivityRestored(dataMaintained: boolean): void {
    this.faults.marketFarmDown = false;
    if (dataMaintained) {
      this.server.broadcast(
        errorMessage(
          NO_REQUEST_ID,
          Code.CONNECTIVITY_RESTORED_DATA_MAINTAINED,
          SystemMessage.connectivityRestoredDataMaintained,
        ),
      );
    } else {
      this.faults.emit('subscriptions-lost');
      this.server.broadcast(
        errorMessage(
          NO_REQUEST_ID,
          Code.CONNECTIVITY_RESTORED_DATA_LOST,
          SystemMessage.connectivityRestoredDataLost,
        ),
      );
    }
    this.faults.emit('market-data-changed');
  }

  setClock(epochMs: number | undefined): void {
    if (epochMs === undefined) this.clock.reset();
    else this.clock.set(epochMs);
    this.faults.emit('market-data-changed');
    this.vnc?.refresh();
  }

  stats(): SimulatorStats {
    return {
      gatewayState: this.login.state,
      listening: this.server.isListening,
      connectedClients: this.server
        .connectedSessions()
        .map((session) => ({ clientId: session.clientId ?? -1, connectionId: session.connectionId })),
      pacingViolations: this.pacingViolations + this.marketHandlers.pacingViolations(),
      marketDataFrozen: this.faults.marketDataFrozen,
      marketFarmDown: this.faults.marketFarmDown,
      refusingConnections: this.refuseTimer !== undefined,
      clock: new Date(this.clock.now()).toISOString(),
      clockIsReal: this.clock.isReal,
      activeMarketDataSubscriptions: this.marketHandlers.activeSubscriptions(),
      dropConnectionsOnNextOrder: this.faults.dropOnNextOrder ?? null,
    };
  }

  /** What the status screen (VNC) shows. */
  statusLines(): string[] {
    const stats = this.stats();
    const stateText: Record<GatewayState, string> = {
      starting: 'Starting IB Gateway...',
      'logging-in': 'Logging in...',
      'awaiting-2fa': 'Waiting for second factor authentication',
      'login-failed': 'Login failed: unrecognized username or password',
      'logged-in': 'Logged in',
    };
    return [
      'IB GATEWAY SIMULATOR',
      '',
      `STATE: ${stateText[stats.gatewayState]}`,
      `ACCOUNTS: ${this.context.accounts.join(', ')}`,
      `API CLIENTS: ${stats.connectedClients.length}`,
      `MARKET DATA: ${stats.marketFarmDown ? 'FARM DOWN' : stats.marketDataFrozen ? 'FROZEN' : 'FLOWING'}`,
      `CLOCK: ${stats.clock.slice(0, 19).replace('T', ' ')} UTC`,
    ];
  }

  // ---- Connection-level requests ----

  private welcome(session: ClientSession): void {
    const burst: WireValue[][] = [
      managedAccountsMessage(this.context.accounts),
      nextValidIdMessage(this.broker.nextValidOrderId),
      errorMessage(
        NO_REQUEST_ID,
        this.faults.marketFarmDown ? Code.MARKET_FARM_BROKEN : Code.MARKET_FARM_OK,
        this.faults.marketFarmDown
          ? SystemMessage.marketFarmBroken(FARMS.market)
          : SystemMessage.marketFarmOk(FARMS.market),
      ),
      errorMessage(NO_REQUEST_ID, Code.HMDS_FARM_OK, SystemMessage.hmdsFarmOk(FARMS.hmds)),
      errorMessage(NO_REQUEST_ID, Code.SEC_DEF_FARM_OK, SystemMessage.secDefFarmOk(FARMS.secDef)),
    ];
    for (const message of burst) session.send(message);
    this.vnc?.refresh();
    session.onClose(() => this.vnc?.refresh());
  }

  private registerSystemHandlers(): void {
    this.server.on(Request.REQ_CURRENT_TIME, (session) => {
      session.send(currentTimeMessage(Math.floor(this.clock.now() / 1000)));
    });
    this.server.on(Request.REQ_MANAGED_ACCTS, (session) => {
      session.send(managedAccountsMessage(this.context.accounts));
    });
    this.server.on(Request.SET_SERVER_LOGLEVEL, () => undefined);
    // A normal (not white-branded) account has an empty white-branding id.
    // The request and its answer exist from v167 (USER_INFO): below it IB refuses the request (321).
    this.server.on(Request.REQ_USER_INFO, (session, request) => {
      requireVersion(request, ServerVersion.USER_INFO, 'reqUserInfo');
      session.send(userInfoMessage(request.int(), ''));
    });
    registerWshHandlers(this.context);
    this.news.register();
  }
}
