import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RunningService } from '../../../src/main';
import { runScan, SCAN_TYPES, type ScanRequest } from '../../../src/simulator/market/scanner';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectMcpClient, startTestService } from '../service/service-harness';

/** A Saturday: quotes stand still, so the simulator's ranking can be recomputed exactly. */
const SATURDAY = Date.parse('2026-11-28T15:00:00Z');
/** TWS API message ids. */
const CANCEL_SCANNER_SUBSCRIPTION = 23;
const SCANNER_DATA = 20;

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ErrorBody {
  code: string;
  message: string;
}
interface ScanAnswer {
  scanCode: string;
  location: string;
  rows: { rank: number; conId: number; symbol: string; secType: string; currency: string }[];
}
interface ParametersAnswer {
  instruments: { type: string; filters: string[] }[];
  locations: { locationCode: string; instruments: string[] }[];
  scanCodes: { scanCode: string; displayName: string }[];
  filters: { code: string; displayName: string; valueType: string }[];
}

describe('scanner: REST and MCP against the simulator', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let mcp: Client;

  beforeAll(async () => {
    service = await startTestService();
    simulator = service.simulator as IbGatewaySimulator;
    simulator.setClock(SATURDAY);
    mcp = await connectMcpClient(service);
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  const rest = async (method: 'GET' | 'POST', path: string, payload: Record<string, unknown> = {}) => {
    const response =
      method === 'GET'
        ? await fetch(
            `${service.urls.base}${path}?${new URLSearchParams(payload as Record<string, string>).toString()}`,
          )
        : await fetch(`${service.urls.base}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(payload),
          });
    return { status: response.status, body: await response.json() };
  };
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await mcp.callTool({ name, arguments: args });
    const [content] = result.content as { type: string; text: string }[];
    return { isError: result.isError === true, structured: result.structuredContent, text: content?.text };
  };
  /** What the simulator itself ranks for the scan, right now. */
  const expectedRanking = (scan: Partial<ScanRequest>) =>
    runScan(
      simulator.market,
      {
        reqId: 0,
        numberOfRows: 10,
        instrument: 'STK',
        locationCode: 'STK.US.MAJOR',
        scanCode: 'TOP_PERC_GAIN',
        stockTypeFilter: '',
        filters: [],
        ...scan,
      },
      simulator.clock.now(),
    ).map((instrument) => instrument.conId);

  it('lists instruments, locations (nested ones too), scan codes and filters, the same over REST and MCP', async () => {
    const overRest = await rest('GET', '/scanner/parameters');
    expect(overRest.status).toBe(200);
    const answer = overRest.body as ParametersAnswer;
    expect(answer.scanCodes.map((entry) => entry.scanCode).sort()).toEqual(Object.keys(SCAN_TYPES).sort());
    for (const entry of answer.scanCodes)
      expect(entry.displayName).toBe(SCAN_TYPES[entry.scanCode]?.displayName);
    expect(answer.instruments.map((entry) => entry.type)).toEqual(['STK']);
    expect(answer.locations.map((entry) => entry.locationCode)).toEqual(
      expect.arrayContaining(['STK.US', 'STK.US.MAJOR', 'STK.NASDAQ', 'STK.NYSE']),
    );
    expect(answer.filters.map((entry) => entry.code)).toEqual(
      expect.arrayContaining(['priceAbove', 'priceBelow', 'volumeAbove']),
    );
    expect(answer.filters.find((entry) => entry.code === 'priceAbove')?.valueType).toBe('double');
    expect((await call('get_scanner_parameters', {})).structured).toEqual(answer);
  });

  it('narrows the parameters to an instrument type and a text', async () => {
    const gainers = (await rest('GET', '/scanner/parameters', { search: 'gainers' }))
      .body as ParametersAnswer;
    expect(gainers.scanCodes.length).toBeGreaterThan(0);
    expect(gainers.scanCodes.every((entry) => /gainers/i.test(entry.displayName))).toBe(true);
    const bonds = (await rest('GET', '/scanner/parameters', { instrument: 'BOND' })).body as ParametersAnswer;
    expect(bonds).toEqual({ instruments: [], locations: [], scanCodes: [], filters: [] });
    const stocks = (await rest('GET', '/scanner/parameters', { instrument: 'stk' })).body as ParametersAnswer;
    expect(stocks.scanCodes).toHaveLength(Object.keys(SCAN_TYPES).length);
  });

  it('runs a scan and returns the simulator ranking, then cancels the subscription', async () => {
    let cancels = 0;
    let scannerData = 0;
    const removeTap = simulator.tap((direction, _session, fields) => {
      if (direction === 'in' && Number(fields[0]) === CANCEL_SCANNER_SUBSCRIPTION) cancels++;
      if (direction === 'out' && Number(fields[0]) === SCANNER_DATA) scannerData++;
    });
    try {
      const overRest = await rest('POST', '/scanner/run', { scanCode: 'TOP_PERC_GAIN', rows: 5 });
      expect(overRest.status).toBe(200);
      const answer = overRest.body as ScanAnswer;
      expect(answer.rows.map((row) => row.conId)).toEqual(expectedRanking({ numberOfRows: 5 }));
      expect(answer.rows.map((row) => row.rank)).toEqual([1, 2, 3, 4, 5]);
      expect(answer.rows[0]).toMatchObject({ secType: 'STK', currency: 'USD' });
      const symbols = answer.rows.map((row) => row.symbol);
      const bySymbol = simulator.market
        .instruments()
        .filter((i) => symbols.includes(i.symbol) && i.secType === 'STK');
      expect(bySymbol.map((i) => i.conId).sort()).toEqual(answer.rows.map((row) => row.conId).sort());

      await sleep(200); // the cancel reaches the simulator
      expect(cancels).toBe(1);
      const afterCancel = scannerData;
      await sleep(3_500); // longer than the simulator's refresh interval
      expect(scannerData).toBe(afterCancel);
    } finally {
      removeTap();
    }
  });

  it('applies filters and a location, and answers the same over MCP', async () => {
    const scan = { scanCode: 'MOST_ACTIVE', location: 'STK.NASDAQ', filters: { priceAbove: 150 }, rows: 10 };
    const overRest = await rest('POST', '/scanner/run', scan);
    expect(overRest.status).toBe(200);
    const answer = overRest.body as ScanAnswer;
    expect(answer.rows.length).toBeGreaterThan(0);
    expect(answer.rows.map((row) => row.conId)).toEqual(
      expectedRanking({
        scanCode: 'MOST_ACTIVE',
        locationCode: 'STK.NASDAQ',
        filters: [{ tag: 'priceAbove', value: 150 }],
      }),
    );
    for (const row of answer.rows) {
      expect(simulator.market.quote(row.conId).last).toBeGreaterThan(150);
      expect(simulator.market.instrument(row.conId)?.primaryExchange).toBe('NASDAQ');
    }
    const unfiltered = (await rest('POST', '/scanner/run', { ...scan, filters: {} })).body as ScanAnswer;
    expect(unfiltered.rows.length).toBeGreaterThan(answer.rows.length);
    expect((await call('run_scanner', scan)).structured).toEqual(answer);
  });

  it('names the wrong field of a bad scan with 400, over REST and MCP', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ scanCode: 'NO_SUCH_SCAN' }, '[scanCode]: NO_SUCH_SCAN is not a scan code IB offers'],
      [
        { scanCode: 'TOP_PERC_GAIN', location: 'STK.MARS' },
        '[location]: STK.MARS is not a location IB scans',
      ],
      [
        { scanCode: 'TOP_PERC_GAIN', instrument: 'BOND' },
        '[instrument]: BOND is not an instrument type IB scans',
      ],
      [{ scanCode: 'TOP_PERC_GAIN', filters: { marketCapAbove: 1 } }, '[filters.marketCapAbove]'],
      [{ scanCode: 'TOP_PERC_GAIN', rows: 0 }, '[rows]'],
      [{ rows: 5 }, '[scanCode]'],
    ];
    for (const [scan, expected] of cases) {
      const overRest = await rest('POST', '/scanner/run', scan);
      expect(overRest.status).toBe(400);
      const body = overRest.body as ErrorBody;
      expect(body.message).toContain(expected);
      const overMcp = await call('run_scanner', scan);
      expect(overMcp.isError).toBe(true);
      expect(overMcp.text).toBe(body.message);
    }
  });

  it("reports IB's own rejection of a scan (error 162) as 400 with IB's reason", async () => {
    const overRest = await rest('POST', '/scanner/run', {
      scanCode: 'TOP_PERC_GAIN',
      filters: { priceAbove: 'cheap' },
    });
    expect(overRest.status).toBe(400);
    expect((overRest.body as ErrorBody).message).toBe(
      'IB rejected the TOP_PERC_GAIN scan: Scanner filter priceAbove is disabled.',
    );
  });
});
