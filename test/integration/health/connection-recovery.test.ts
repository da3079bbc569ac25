import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import { IBApiNext, SecType } from '@stoqey/ib';
import type { Observable, Subscription } from 'rxjs';
import type { z } from 'zod';
import type { ConnectionStatus } from '../../../src/connection/connection.schemas';
import { IbSession } from '../../../src/connection/ib-session.repository';
import { ContractsService } from '../../../src/contracts/contracts.service';
import { MarketDataStreams } from '../../../src/market-data/market-data-streams';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { Request } from '../../../src/simulator/protocol/message-ids';
import { connectClient, disconnectAllClients } from '../../support/ib-client';
import { startTestService, testConfig } from '../service/service-harness';
import {
  eventually,
  FAST_WATCHDOG,
  FX_OPEN,
  sleep,
  startHealthService,
  untilDataFlowing,
  type HealthTestService,
} from './health-harness';

jest.setTimeout(60_000);

async function connectionStatus(base: string): Promise<z.infer<typeof ConnectionStatus>> {
  return (await (await fetch(`${base}/connection/status`)).json()) as z.infer<typeof ConnectionStatus>;
}

/** Records when each tick of a stream arrived. */
function tickTimes(stream: Observable<unknown>): { times: number[]; subscription: Subscription } {
  const times: number[] = [];
  const subscription = stream.subscribe(() => times.push(Date.now()));
  return { times, subscription };
}

describe('IB API session: reconnects, client ids, subscriptions (in-process simulator)', () => {
  let running: HealthTestService | undefined;

  afterEach(async () => {
    disconnectAllClients();
    await running?.close();
    running = undefined;
  });

  it('takes the next client id when IB says the configured one is in use (326), and says so in status', async () => {
    const simulator = new IbGatewaySimulator();
    await simulator.start();
    simulator.setClock(FX_OPEN);
    const ours = CONFIG_DEFAULTS.ib.clientId;
    const squatter = await connectClient(simulator.port, { clientId: ours }); // another app holds our id
    try {
      const service = await startTestService(testConfig({ watchdog: FAST_WATCHDOG }), { simulator });
      try {
        const status = await connectionStatus(service.urls.base);
        expect(status).toMatchObject({
          state: 'connected',
          clientId: ours + 1,
          configuredClientId: ours,
          clientIdCollisions: 1,
        });
        const clientIds = simulator
          .stats()
          .connectedClients.map((client) => client.clientId)
          .sort((a, b) => a - b);
        expect(clientIds).toEqual([ours, ours + 1]);
        expect(squatter.ib.isConnected).toBe(true); // the other app was not kicked
        const events = (await (
          await fetch(`${service.urls.base}/health/events?source=connection`)
        ).json()) as {
          events: { to: string; reason: string }[];
        };
        expect(events.events.find((event) => event.to === 'connected')?.reason).toContain(
          `client id ${ours} was in use`,
        );
        // Requests flow on the session it got.
        const time = (await (await fetch(`${service.urls.base}/connection/server-time`)).json()) as {
          epochSeconds: number;
        };
        expect(Math.abs(time.epochSeconds * 1000 - FX_OPEN)).toBeLessThan(60_000);
      } finally {
        await service.close();
      }
    } finally {
      squatter.disconnect();
      await simulator.stop();
    }
  });

  it('reconnects a dropped session with exponential backoff, and streams resume ticking on their own', async () => {
    const health = (running = await startHealthService({ staleAfterSeconds: 30 }));
    const { service, simulator } = health;
    await untilDataFlowing(health);
    const ibApi = service.get(IbSession);
    const aapl = await service.get(ContractsService).resolveContract({ symbol: 'AAPL' });
    // A client stream (the market data feature's) and a bare IBApiNext stream on the service's session.
    const lease = service.get(MarketDataStreams).open(aapl.contract, 'real-time');
    const leaseTicks = tickTimes(lease.quotes);
    const session: IBApiNext = ibApi.ibClient('a test stream');
    const rawTicks = tickTimes(session.getMarketData(aapl.contract, '', false, false));
    try {
      await eventually('ticks before the drop', () =>
        leaseTicks.times.length > 0 && rawTicks.times.length > 0 ? true : undefined,
      );

      await simulator.refuseConnections(2_500); // the gateway's port is down for a while ...
      const droppedAt = Date.now();
      simulator.dropConnections(); // ... and every API connection drops
      const backoffs = new Set<number>();
      const connected = await eventually(
        'the session back',
        async () => {
          const status = await connectionStatus(service.urls.base);
          if (status.backoffSeconds !== null) backoffs.add(status.backoffSeconds);
          return status.state === 'connected' ? status : undefined;
        },
        20_000,
        50,
      );
      expect([...backoffs]).toEqual(expect.arrayContaining([0.5, 1, 2]));
      expect(connected.reconnects).toBe(1);
      expect(connected.clientId).toBe(CONFIG_DEFAULTS.ib.clientId);
      expect(connected.lastError?.message).toMatch(/ECONNREFUSED/);

      // Nothing re-subscribed by hand: IBApiNext re-requests its streams on the same instance.
      await eventually('both streams ticking again', () =>
        leaseTicks.times.some((at) => at > droppedAt + 2_500) &&
        rawTicks.times.some((at) => at > droppedAt + 2_500)
          ? true
          : undefined,
      );
      await eventually('the watchdog probe ticking again', async () => {
        const status = await health.status();
        return Date.parse(status.probe.lastTickAt ?? '') > droppedAt + 2_500 ? true : undefined;
      });
      // The new connection holds the streams again (the old connection's died with it): AAPL and the probe.
      expect(simulator.stats().activeMarketDataSubscriptions).toBe(2);
      expect((await health.events({ source: 'ladder' })).events).toEqual([]); // the session layer handled it
    } finally {
      rawTicks.subscription.unsubscribe();
      leaseTicks.subscription.unsubscribe();
      lease.release();
    }
  });

  it('leaves no reconnect timer behind on shutdown: a closed service never connects again', async () => {
    const simulator = new IbGatewaySimulator();
    await simulator.start();
    const connectionsAfterClose = new Set<number>();
    let closed = false;
    const untap = simulator.tap((direction, session, fields) => {
      if (closed && direction === 'in' && String(fields[0]) === String(Request.START_API)) {
        connectionsAfterClose.add(session.connectionId);
      }
    });
    try {
      const service = await startTestService(testConfig(), { simulator });
      await simulator.refuseConnections(1_000);
      simulator.dropConnections();
      await eventually('a retry scheduled', async () => {
        const status = await connectionStatus(service.urls.base);
        return status.nextAttemptAt !== null ? true : undefined;
      });
      await service.close();
      closed = true;
      await sleep(4_000); // past the refusal and every backoff step that could have been pending
      expect(connectionsAfterClose.size).toBe(0);
      expect(simulator.stats().connectedClients).toEqual([]);
    } finally {
      untap();
      await simulator.stop();
    }
  });

  it('leaves no timer behind on shutdown, where IBApiNext alone leaves its reconnect timer running', async () => {
    const created: NodeJS.Timeout[] = [];
    const original = global.setTimeout;
    const spy = jest
      .spyOn(global, 'setTimeout')
      .mockImplementation((...args: Parameters<typeof setTimeout>) => {
        const timer = original(...args);
        created.push(timer);
        return timer;
      });
    // Node marks a timer that fired or was cleared as destroyed.
    const pending = () =>
      created.filter((timer) => !(timer as unknown as { _destroyed: boolean })._destroyed);
    try {
      const ibApi = new IbSession();
      ibApi.connect({ host: '127.0.0.1', port: 1, clientId: 3 }); // nothing listens: it keeps retrying
      await eventually('a retry pending', () => (ibApi.status().failedAttempts >= 2 ? true : undefined));
      expect(pending().length).toBeGreaterThan(0);
      ibApi.onModuleDestroy();
      expect(pending()).toEqual([]);

      created.length = 0;
      const bare = new IBApiNext({ host: '127.0.0.1', port: 1, reconnectInterval: 2_000 });
      bare.connect(4);
      await eventually('its reconnect timer', () => (pending().length > 0 ? true : undefined));
      bare.disconnect();
      expect(pending().length).toBeGreaterThan(0); // the library's own loop outlives disconnect()
    } finally {
      spy.mockRestore();
    }
  });

  it('moves the same IBApiNext to a new gateway address and re-requests its streams there', async () => {
    const first = new IbGatewaySimulator();
    const second = new IbGatewaySimulator();
    await Promise.all([first.start(), second.start()]);
    first.setClock(FX_OPEN);
    second.setClock(FX_OPEN);
    const ibApi = new IbSession();
    try {
      ibApi.connect({ host: '127.0.0.1', port: first.port, clientId: 7 });
      await ibApi.waitUntilConnected(10_000);
      const [details] = await ibApi.ibRequest('EUR.USD', async (ib) =>
        ib.getContractDetails({
          symbol: 'EUR',
          secType: SecType.CASH,
          exchange: 'IDEALPRO',
          currency: 'USD',
        }),
      );
      const ticks = tickTimes(ibApi.ibClient('a stream').getMarketData(details!.contract, '', false, false));
      await eventually('ticks from the first gateway', () => (ticks.times.length > 0 ? true : undefined));

      // The gateway came back on another port (a container restart with a Docker-assigned port).
      ibApi.connect({ host: '127.0.0.1', port: second.port, clientId: 7 });
      await eventually('connected to the second gateway', () =>
        second.stats().connectedClients.some((client) => client.clientId === 7) && ibApi.state === 'connected'
          ? true
          : undefined,
      );
      expect(first.stats().connectedClients).toEqual([]);
      const movedAt = Date.now();
      await eventually('ticks from the second gateway', () =>
        ticks.times.some((at) => at > movedAt) ? true : undefined,
      );
      expect(second.stats().activeMarketDataSubscriptions).toBe(1);
      expect(ibApi.status()).toMatchObject({ clientId: 7, target: { port: second.port } });
      ticks.subscription.unsubscribe();
    } finally {
      ibApi.onModuleDestroy();
      await Promise.all([first.stop(), second.stop()]);
    }
  });
});
