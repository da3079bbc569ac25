import type { z } from 'zod';
import type { HealthEvents, HealthStatus } from '../../../src/health/health.schemas';
import type { AppConfig } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { startTestService, testConfig } from '../service/service-harness';

/** A Wednesday afternoon: IDEALPRO FX (the EUR.USD probe) trades. */
export const FX_OPEN = Date.parse('2026-11-18T15:00:00Z');
/** A Saturday noon: FX is closed until Sunday 17:15 New York time (22:15 UTC in November). */
export const FX_CLOSED = Date.parse('2026-11-21T12:00:00Z');
export const FX_REOPENS = '2026-11-22T22:15:00.000Z';

/** Small thresholds so a whole ladder runs in seconds. */
export const FAST_WATCHDOG: AppConfig['watchdog'] = {
  probeSymbol: 'EUR.USD',
  staleAfterSeconds: 2,
  backoffInitialSeconds: 1,
  backoffMaxSeconds: 4,
  maxRestartsPerHour: 3,
};

export interface HealthTestService {
  service: RunningService;
  simulator: IbGatewaySimulator;
  status(): Promise<z.infer<typeof HealthStatus>>;
  events(query?: Record<string, string | number>): Promise<z.infer<typeof HealthEvents>>;
  close(): Promise<void>;
}

/** The service against an in-process simulator whose clock stands at `clock` (an open FX market unless given). */
export async function startHealthService(
  watchdog: Partial<AppConfig['watchdog']> = {},
  clock: number = FX_OPEN,
): Promise<HealthTestService> {
  const simulator = new IbGatewaySimulator();
  await simulator.start();
  simulator.setClock(clock);
  let service: RunningService;
  try {
    service = await startTestService(testConfig({ watchdog: { ...FAST_WATCHDOG, ...watchdog } }), {
      simulator,
    });
  } catch (error) {
    await simulator.stop();
    throw error;
  }
  const base = service.urls.base;
  return {
    service,
    simulator,
    status: async () => (await (await fetch(`${base}/health/status`)).json()) as z.infer<typeof HealthStatus>,
    events: async (query = {}) => {
      const search = new URLSearchParams(
        Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
      );
      const response = await fetch(`${base}/health/events?${search.toString()}`);
      return (await response.json()) as z.infer<typeof HealthEvents>;
    },
    close: async () => {
      await service.close();
      await simulator.stop();
    },
  };
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs` with `what`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Waits until the service reports data flowing (the starting point of every recovery scenario). */
export async function untilDataFlowing(health: HealthTestService): Promise<void> {
  await eventually('data-flowing', async () =>
    (await health.status()).state === 'data-flowing' ? true : undefined,
  );
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}
