import {
  Instrument,
  LocationCode,
  ScanCode,
  type IBApiNext,
  type MarketScannerRows,
  type ScannerSubscription,
  type TagValue,
} from '@stoqey/ib';
import { firstValueFrom, skip, take, timeout, toArray } from 'rxjs';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

/** A Saturday: every quote stands still, so rankings can be recomputed exactly. */
const SATURDAY = Date.parse('2026-11-28T15:00:00Z');
/** A Tuesday, 11:00 New York time. */
const TUESDAY_MORNING_NY = Date.parse('2026-11-24T16:00:00Z');

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A tiny XML reader: checks well-formedness and returns every element as {name, text, children}. */
interface XmlElement {
  name: string;
  text: string;
  children: XmlElement[];
}
function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: '#document', text: '', children: [] };
  const stack: XmlElement[] = [root];
  const body = xml.replace(/^<\?xml[^>]*\?>/, '');
  const token = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/g;
  let consumed = 0;
  for (let match = token.exec(body); match; match = token.exec(body)) {
    if (match.index !== consumed) throw new Error(`Malformed XML near offset ${consumed}`);
    consumed = token.lastIndex;
    const [, closing, name = '', , selfClosing, text] = match;
    const current = stack[stack.length - 1];
    if (!current) throw new Error('Unbalanced XML');
    if (text !== undefined) {
      if (/[<>]/.test(text)) throw new Error('Stray markup');
      current.text += text;
    } else if (closing) {
      if (current.name !== name) throw new Error(`</${name}> closes <${current.name}>`);
      stack.pop();
    } else {
      const element: XmlElement = { name, text: '', children: [] };
      current.children.push(element);
      if (!selfClosing) stack.push(element);
    }
  }
  if (consumed !== body.length || stack.length !== 1) throw new Error('Truncated XML');
  return root;
}
function findAll(element: XmlElement, name: string): XmlElement[] {
  return element.children.flatMap((child) => [
    ...(child.name === name ? [child] : []),
    ...findAll(child, name),
  ]);
}

describe('market scanner, through @stoqey/ib', () => {
  let simulator: IbGatewaySimulator;
  let client: TestClient;
  let ib: IBApiNext;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ seed: 42 });
    recordWire(simulator);
    const port = await simulator.start();
    client = await connectClient(port);
    ib = client.ib;
  });

  afterAll(async () => {
    expect(decodeErrors(client.errors)).toEqual([]);
    disconnectAllClients();
    await simulator.stop();
  });

  /** US stocks of the universe with their percent change, from the market's own quotes. */
  function usStocksByChange(): { symbol: string; last: number; change: number }[] {
    return simulator.market
      .instruments()
      .filter((instrument) => instrument.secType === 'STK' && instrument.currency === 'USD')
      .map((instrument) => {
        const quote = simulator.market.quote(instrument.conId);
        return {
          symbol: instrument.symbol,
          last: quote.last,
          change: ((quote.last - quote.close) / quote.close) * 100,
        };
      })
      .sort((a, b) => b.change - a.change);
  }

  async function firstRows(
    subscription: ScannerSubscription,
    filterOptions?: TagValue[],
  ): Promise<{ rank: number; symbol: string }[]> {
    const update = await firstValueFrom(
      ib.getMarketScanner(subscription, undefined, filterOptions).pipe(timeout(5_000)),
    );
    return rowsOf(update.all);
  }

  function rowsOf(rows: MarketScannerRows): { rank: number; symbol: string }[] {
    return [...rows.values()]
      .sort((a, b) => a.rank - b.rank)
      .map((row) => ({ rank: row.rank, symbol: row.contract.contract.symbol ?? '' }));
  }

  const topGainers = (overrides: Partial<ScannerSubscription> = {}): ScannerSubscription => ({
    instrument: Instrument.STK,
    locationCode: LocationCode.STK_US_MAJOR,
    scanCode: ScanCode.TOP_PERC_GAIN,
    ...overrides,
  });

  it('publishes well-formed scanner parameters listing every scan it runs', async () => {
    simulator.setClock(TUESDAY_MORNING_NY);
    const xml = await ib.getScannerParameters();
    const document = parseXml(xml);
    const [response] = document.children;
    expect(response?.name).toBe('ScanParameterResponse');
    expect(response?.children.map((child) => child.name)).toEqual([
      'InstrumentList',
      'LocationTree',
      'ScanTypeList',
      'FilterList',
    ]);
    const scanCodes = findAll(document, 'scanCode').map((element) => element.text);
    expect(scanCodes).toEqual(
      expect.arrayContaining(['TOP_PERC_GAIN', 'TOP_PERC_LOSE', 'MOST_ACTIVE', 'HOT_BY_VOLUME']),
    );
    const locationCodes = findAll(document, 'locationCode').map((element) => element.text);
    expect(locationCodes).toContain('STK.US.MAJOR');
    // Every advertised scan code actually runs.
    for (const code of scanCodes) {
      const rows = await firstRows(
        topGainers({ scanCode: ScanCode[code as keyof typeof ScanCode], numberOfRows: 3 }),
      );
      expect(rows.length).toBeGreaterThan(0);
    }
  });

  it('ranks TOP_PERC_GAIN and TOP_PERC_LOSE by the percent change of the quotes', async () => {
    simulator.setClock(SATURDAY);
    const expected = usStocksByChange();
    const gainers = await firstRows(topGainers({ numberOfRows: 5 }));
    expect(gainers).toEqual(expected.slice(0, 5).map(({ symbol }, rank) => ({ rank, symbol })));

    const losers = await firstRows(topGainers({ scanCode: ScanCode.TOP_PERC_LOSE, numberOfRows: 4 }));
    const worst = [...expected].reverse().slice(0, 4);
    expect(losers).toEqual(worst.map(({ symbol }, rank) => ({ rank, symbol })));
  });

  it('honours abovePrice, belowPrice and filter options', async () => {
    simulator.setClock(SATURDAY);
    const expected = usStocksByChange();
    const pricey = await firstRows(topGainers({ abovePrice: 300, numberOfRows: 50 }));
    expect(pricey.length).toBeGreaterThan(0);
    expect(pricey).toEqual(
      expected.filter(({ last }) => last > 300).map(({ symbol }, rank) => ({ rank, symbol })),
    );

    const cheap = await firstRows(topGainers({ belowPrice: 250 }), [{ tag: 'priceAbove', value: '150' }]);
    expect(cheap.length).toBeGreaterThan(0);
    expect(cheap).toEqual(
      expected.filter(({ last }) => last < 250 && last > 150).map(({ symbol }, rank) => ({ rank, symbol })),
    );
  });

  it('ranks an open market by live quotes and limits the rows', async () => {
    simulator.setClock(TUESDAY_MORNING_NY);
    const rows = await firstRows(topGainers({ numberOfRows: 3 }));
    expect(rows).toHaveLength(3);
    // Quotes keep moving after the scan, so compare within a small tolerance.
    const changes = new Map(usStocksByChange().map(({ symbol, change }) => [symbol, change]));
    const rowChanges = rows.map(({ symbol }) => changes.get(symbol) ?? Number.NaN);
    for (let i = 1; i < rowChanges.length; i++) {
      expect(rowChanges[i]).toBeLessThanOrEqual((rowChanges[i - 1] ?? 0) + 0.05);
    }
    const best = Math.max(...changes.values());
    expect(rowChanges[0]).toBeGreaterThanOrEqual(best - 0.05);

    const active = await firstRows(topGainers({ scanCode: ScanCode.MOST_ACTIVE, numberOfRows: 50 }));
    const volumes = active.map(({ symbol }) => {
      const instrument = simulator.market
        .instruments()
        .find((candidate) => candidate.symbol === symbol && candidate.currency === 'USD');
      return simulator.market.quote(instrument?.conId ?? 0).volume;
    });
    expect(volumes.length).toBe(changes.size);
    expect(volumes[0]).toBe(Math.max(...volumes));
  });

  it('refreshes a subscription every few seconds until it is cancelled', async () => {
    simulator.setClock(TUESDAY_MORNING_NY);
    let scannerMessages = 0;
    const removeTap = simulator.tap((direction, _session, fields) => {
      if (direction === 'out' && fields[0] === 20) scannerMessages++;
    });
    try {
      // IBApiNext emits once per row after the first message, so wait for the second message's end.
      const updates = await firstValueFrom(
        ib
          .getMarketScanner(topGainers({ numberOfRows: 2 }))
          .pipe(skip(1), take(2), toArray(), timeout(8_000)),
      );
      expect(updates).toHaveLength(2);
      expect(scannerMessages).toBeGreaterThanOrEqual(2);
      await sleep(200); // the cancel reaches the simulator
      const afterCancel = scannerMessages;
      await sleep(3_500);
      expect(scannerMessages).toBe(afterCancel);
      expect(
        client.errors.some((error) => Number(error.code) === 162 && /cancelled/.test(error.message)),
      ).toBe(true);
    } finally {
      removeTap();
    }
  });

  it('stops scanning for a client that disconnects', async () => {
    const other = await connectClient(simulator.port);
    let scannerMessages = 0;
    const removeTap = simulator.tap((direction, _session, fields) => {
      if (direction === 'out' && fields[0] === 20) scannerMessages++;
    });
    try {
      await firstValueFrom(other.ib.getMarketScanner(topGainers({ numberOfRows: 2 })).pipe(timeout(5_000)));
      other.disconnect();
      await sleep(200);
      const afterDisconnect = scannerMessages;
      await sleep(3_500);
      expect(scannerMessages).toBe(afterDisconnect);
    } finally {
      removeTap();
    }
  });

  it('rejects a scan code it does not know with error 162', async () => {
    await expect(
      firstValueFrom(
        ib.getMarketScanner(topGainers({ scanCode: ScanCode.WSH_NEXT_EARNINGS })).pipe(timeout(5_000)),
      ),
    ).rejects.toMatchObject({
      code: 162,
      message:
        'Historical Market Data Service error message:Scanner type with code WSH_NEXT_EARNINGS is disabled.',
    });
    await expect(
      firstValueFrom(
        ib.getMarketScanner(topGainers({ locationCode: LocationCode.STK_HK_SEHK })).pipe(timeout(5_000)),
      ),
    ).rejects.toMatchObject({ code: 162 });
  });
});
