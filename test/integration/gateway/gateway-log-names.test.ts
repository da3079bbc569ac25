import { Writable } from 'node:stream';
import type { z } from 'zod';
import type { HealthStatus } from '../../../src/health/health.schemas';
import type { RunningService } from '../../../src/main';
import { eventually, FAST_WATCHDOG, FX_OPEN } from '../health/health-harness';
import { startTestService, testConfig } from '../service/service-harness';

/**
 * With several gateways, a log line about one of them names it: what its own services log on their own
 * (the session connecting, the recovery ladder acting on frozen data) and what they log while answering a
 * request routed to it. With one gateway, lines stay as they were.
 */

interface LogLine {
  msg: string;
  gateway?: string;
  context?: string;
}

function capture(): { lines: LogLine[]; destination: Writable } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(JSON.parse(text) as LogLine);
      }
      done();
    },
  });
  return { lines, destination };
}

async function reconnect(service: RunningService, gateway: string): Promise<Response> {
  return fetch(`${service.urls.base}/connection/reconnect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ gateway }),
  });
}

describe('log lines of a supervisor with several gateways', () => {
  let service: RunningService | undefined;
  // One capture for the file: nestjs-pino writes lines outside a request to the first destination it was given.
  const { lines, destination } = capture();

  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  it('name the gateway they are about', async () => {
    service = await startTestService(
      testConfig({
        logLevel: 'info',
        watchdog: { ...FAST_WATCHDOG, backoffMaxSeconds: 2 },
        gateways: [
          { name: 'calm', required: true },
          { name: 'frozen', required: true },
        ],
      }),
      { logDestination: destination },
    );
    // An open FX market whatever day it runs: the clocks move, and new sessions learn the trading hours anew.
    for (const running of service.gateways) running.simulator?.setClock(FX_OPEN);
    for (const name of ['calm', 'frozen']) {
      const reconnected = await reconnect(service, name);
      expect(reconnected.status).toBe(200);
    }
    const status = async (gateway: string) =>
      (await (await fetch(`${service?.urls.base}/health/status?gateway=${gateway}`)).json()) as z.infer<
        typeof HealthStatus
      >;
    for (const name of ['calm', 'frozen']) {
      await eventually(`${name} data-flowing`, async () =>
        (await status(name)).state === 'data-flowing' ? true : undefined,
      );
    }
    const connecting = lines.filter((line) => line.msg.startsWith('Connecting the IB API session'));
    expect(connecting.length).toBeGreaterThanOrEqual(4);
    expect(connecting.filter((line) => line.gateway === 'calm')).toHaveLength(connecting.length / 2);
    expect(connecting.filter((line) => line.gateway === 'frozen')).toHaveLength(connecting.length / 2);

    service.gateways[1]?.simulator?.freezeMarketData();
    await eventually('the ladder acts', () =>
      lines.some((line) => line.msg.startsWith('Recovery ladder idle -> resubscribe')) ? true : undefined,
    );
    const ladder = lines.filter((line) => line.msg.startsWith('Recovery ladder'));
    expect(new Set(ladder.map((line) => line.gateway))).toEqual(new Set(['frozen']));
    expect((await status('calm')).state).toBe('data-flowing');
    service.gateways[1]?.simulator?.freezeMarketData(false);

    // A request routed to a gateway: what its services log meanwhile names it too.
    const before = lines.length;
    const response = await reconnect(service, 'calm');
    expect(response.status).toBe(200);
    const reconnectLines = lines.slice(before).filter((line) => line.msg.startsWith('Connecting the IB API'));
    expect(reconnectLines.length).toBeGreaterThan(0);
    expect(new Set(reconnectLines.map((line) => line.gateway))).toEqual(new Set(['calm']));
  });

  it('stay as they were with one gateway', async () => {
    const before = lines.length;
    service = await startTestService(testConfig({ logLevel: 'info' }), { logDestination: destination });
    const connecting = lines
      .slice(before)
      .filter((line) => line.msg.startsWith('Connecting the IB API session'));
    expect(connecting.length).toBeGreaterThan(0);
    expect(connecting.every((line) => line.gateway === undefined)).toBe(true);
  });
});
