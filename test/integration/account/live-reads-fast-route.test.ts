import { Logger } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccountReadRoutes } from '../../../src/account/account-reads.route';
import { serveFastRoutes } from '../../../src/common/fast-route';
import { MetricsRegistry } from '../../../src/common/metrics';
import { GatewayRouter } from '../../../src/gateway/gateway-router';
import type { RunningService } from '../../../src/main';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { eventually } from '../orders/orders-harness';
import { startTestService, testConfig } from '../service/service-harness';

/**
 * The account reads' fast routes (in front of Express and Nest) answer exactly what the declared routes
 * answer, errors included, and hand invalid input to the declared route. They are served here on a server of
 * their own, over the running service's gateways, so that they can be compared with the service's answers.
 */

const ACCOUNTS = ['DU1111111', 'DU2222222'];
const NOT_FAST = 'not a fast route';

describe('account reads over fast routes', () => {
  let simulator: IbGatewaySimulator;
  let service: RunningService;
  let fast: Server;
  let fastBase: string;

  const read = async (base: string, path: string) => {
    const response = await fetch(`${base}${path}`);
    const text = await response.text();
    return { status: response.status, body: text === NOT_FAST ? NOT_FAST : (JSON.parse(text) as unknown) };
  };
  /** Freshness times differ between two reads of a PnL pushed each second: compared without them. */
  const timeless = (body: unknown) =>
    JSON.parse(JSON.stringify(body).replace(/"asOf":"[^"]*"/g, '"asOf":"-"')) as unknown;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: ACCOUNTS });
    await simulator.start();
    service = await startTestService(testConfig(), { simulator });
    fast = createServer((_request, response) => response.end(NOT_FAST));
    serveFastRoutes(fast, {
      layers: [],
      routes: new AccountReadRoutes(service.app.get(GatewayRouter, { strict: false })).routes,
      metrics: service.app.get(MetricsRegistry, { strict: false }),
      logger: new Logger('FastRoutesTest'),
      debug: false,
      redactor: { redactDeep: (value) => value },
      maxUrlLength: 4096,
    });
    await new Promise<void>((resolve) => fast.listen(0, '127.0.0.1', resolve));
    fastBase = `http://127.0.0.1:${(fast.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => fast.close(resolve));
    await service.close();
    await simulator.stop();
  });

  it('answers as the declared routes do, from live state', async () => {
    await eventually(async () => {
      const { body } = await read(service.urls.base, `/account/values?account=${ACCOUNTS[0]}`);
      return JSON.stringify(body).includes('"source":"live"') ? body : undefined;
    });
    for (const path of [
      '/account/summary',
      `/account/summary?account=${ACCOUNTS[1]}`,
      '/account/positions',
      '/account/pnl',
      `/account/values?account=${ACCOUNTS[0]}&tags=NetLiquidation,CashBalance`,
      '/account/summary?account=DU9999999',
    ]) {
      const [declared, fastAnswer] = [await read(service.urls.base, path), await read(fastBase, path)];
      expect({ path, status: fastAnswer.status }).toEqual({ path, status: declared.status });
      expect(timeless(fastAnswer.body)).toEqual(timeless(declared.body));
    }
    expect((await read(fastBase, '/account/summary')).body).toMatchObject({ freshness: { source: 'live' } });
  });

  it('leaves invalid input to the declared route, which says why', async () => {
    expect((await read(fastBase, '/account/summary?account=not-an-id')).body).toBe(NOT_FAST);
    expect((await read(fastBase, '/account/values?currency=dollars')).body).toBe(NOT_FAST);
  });
});
