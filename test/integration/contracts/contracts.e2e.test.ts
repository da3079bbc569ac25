import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ContractsService } from '../../../src/contracts/contracts.service';
import type { RunningService } from '../../../src/main';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectMcpClient, startTestService } from '../service/service-harness';

/** The TWS API message id of reqContractDetails. */
const REQ_CONTRACT_DATA = 9;

interface ErrorBody {
  code: string;
  message: string;
  candidates?: { conId: number }[];
}

interface ContractDetailsAnswer {
  match: 'unique' | 'ambiguous';
  query: string;
  contract?: { conId: number; symbol: string; secType: string; exchange: string; currency: string };
  candidates?: { conId: number; secType: string; exchange: string; currency: string; description: string }[];
  totalCandidates?: number;
}

describe('contracts: REST and MCP against the simulator', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let mcp: Client;

  beforeAll(async () => {
    service = await startTestService();
    simulator = service.simulator as IbGatewaySimulator;
    mcp = await connectMcpClient(service);
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  const get = async (path: string, query: Record<string, string | number> = {}) => {
    const search = new URLSearchParams(
      Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
    );
    const response = await fetch(`${service.urls.base}${path}?${search.toString()}`);
    return { status: response.status, body: await response.json() };
  };
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await mcp.callTool({ name, arguments: args });
    const [content] = result.content as { type: string; text: string }[];
    return { isError: result.isError === true, structured: result.structuredContent, text: content?.text };
  };
  const instrumentsOf = (
    predicate: (instrument: ReturnType<typeof simulator.market.instruments>[number]) => boolean,
  ) => simulator.market.instruments().filter(predicate);

  it('qualifies a stock by symbol with the defaults (STK on SMART in USD), the same over REST and MCP', async () => {
    const overRest = await get('/contracts/details', { symbol: 'AAPL' });
    expect(overRest.status).toBe(200);
    const answer = overRest.body as ContractDetailsAnswer;
    const [aapl] = instrumentsOf(
      (instrument) => instrument.symbol === 'AAPL' && instrument.secType === 'STK',
    );
    expect(answer).toMatchObject({
      match: 'unique',
      query: 'AAPL (STK on SMART in USD)',
      contract: { conId: aapl?.conId, symbol: 'AAPL', secType: 'STK', exchange: 'SMART', currency: 'USD' },
    });
    const overMcp = await call('get_contract_details', { symbol: 'AAPL' });
    expect(overMcp.isError).toBe(false);
    expect(overMcp.structured).toEqual(answer);
    // IB lists ETFs as stocks; "ETF" is taken to mean that.
    const spy = (await get('/contracts/details', { symbol: 'SPY', secType: 'ETF' }))
      .body as ContractDetailsAnswer;
    expect(spy.contract).toMatchObject({ symbol: 'SPY', secType: 'STK' });
  });

  it('takes a currency pair as EUR.USD (CASH on IDEALPRO) and a conId on its own', async () => {
    const pair = (await get('/contracts/details', { symbol: 'EUR.USD' })).body as ContractDetailsAnswer;
    const [eurusd] = instrumentsOf((instrument) => instrument.localSymbol === 'EUR.USD');
    expect(pair.contract).toMatchObject({ conId: eurusd?.conId, secType: 'CASH', exchange: 'IDEALPRO' });
    const byConId = (await get('/contracts/details', { conId: eurusd?.conId ?? 0 }))
      .body as ContractDetailsAnswer;
    expect(byConId.match).toBe('unique');
    expect(byConId.contract?.conId).toBe(eurusd?.conId);
  });

  it('answers an unknown symbol with 404 naming it, and isError with the same message over MCP', async () => {
    const overRest = await get('/contracts/details', { symbol: 'XYZQ' });
    expect(overRest.status).toBe(404);
    const body = overRest.body as ErrorBody;
    expect(body.code).toBe('NOT_FOUND');
    expect(body.message).toBe('No contract found for symbol XYZQ (STK on SMART in USD)');
    const overMcp = await call('get_contract_details', { symbol: 'XYZQ' });
    expect(overMcp.isError).toBe(true);
    expect(overMcp.text).toBe(body.message);
  });

  it('rejects a query with neither symbol nor conId with 400 naming the field, over REST and MCP', async () => {
    const overRest = await get('/contracts/details', { secType: 'STK' });
    expect(overRest.status).toBe(400);
    const body = overRest.body as ErrorBody;
    expect(body.code).toBe('INVALID_INPUT');
    expect(body.message).toContain('[symbol]');
    expect(body.message).toContain('symbol or conId');
    const overMcp = await call('get_contract_details', { secType: 'STK' });
    expect(overMcp.isError).toBe(true);
    expect(overMcp.text).toBe(body.message);
  });

  it('rejects a malformed field with 400 naming it and the rule', async () => {
    const overRest = await get('/contracts/details', { symbol: 'AAPL', right: 'X' });
    expect(overRest.status).toBe(400);
    expect((overRest.body as ErrorBody).message).toContain('[right]');
    const expiry = await get('/contracts/details', { symbol: 'ES', secType: 'FUT', expiry: '2026-06' });
    expect(expiry.status).toBe(400);
    expect((expiry.body as ErrorBody).message).toContain('[expiry]');
  });

  it('lists the candidates of an ambiguous query (every listed ES future) instead of guessing', async () => {
    const futures = instrumentsOf((instrument) => instrument.symbol === 'ES' && instrument.secType === 'FUT');
    expect(futures.length).toBeGreaterThan(1);
    const overRest = await get('/contracts/details', { symbol: 'ES', secType: 'FUT' });
    expect(overRest.status).toBe(200);
    const answer = overRest.body as ContractDetailsAnswer;
    expect(answer.match).toBe('ambiguous');
    expect(answer.totalCandidates).toBe(futures.length);
    expect(answer.candidates?.map((candidate) => candidate.conId).sort()).toEqual(
      futures.map((future) => future.conId).sort(),
    );
    expect(answer.candidates?.[0]).toMatchObject({ secType: 'FUT', exchange: 'CME', currency: 'USD' });
    expect((await call('get_contract_details', { symbol: 'ES', secType: 'FUT' })).structured).toEqual(answer);

    // Naming one expiry makes it unique.
    const [first] = futures;
    const unique = (
      await get('/contracts/details', {
        symbol: 'ES',
        secType: 'FUT',
        expiry: first?.lastTradeDate ?? '',
      })
    ).body as ContractDetailsAnswer;
    expect(unique.match).toBe('unique');
    expect(unique.contract?.conId).toBe(first?.conId);
  });

  it('resolveContract (used by quotes and orders) reports ambiguity as CONFLICT listing the candidates, and caches', async () => {
    const contracts = service.get(ContractsService);
    const futures = instrumentsOf((instrument) => instrument.symbol === 'ES' && instrument.secType === 'FUT');
    await expect(contracts.resolveContract({ symbol: 'ES', secType: 'FUT' })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(
        `${futures.length} contracts match symbol ES (FUT on any exchange in USD)`,
      ),
      details: { totalCandidates: futures.length },
    });
    await expect(contracts.resolveContract({ symbol: 'NOPE' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'No contract found for symbol NOPE (STK on SMART in USD)',
    });
    await expect(contracts.resolveContract({})).rejects.toMatchObject({ code: 'INVALID_INPUT' });

    // Only MSFT's: the watchdog may resolve its probe contract meanwhile.
    const msftConId = String(instrumentsOf((i) => i.symbol === 'MSFT')[0]?.conId);
    let contractRequests = 0;
    const removeTap = simulator.tap((direction, _session, fields) => {
      if (direction !== 'in' || Number(fields[0]) !== REQ_CONTRACT_DATA) return;
      if (fields.some((field) => String(field).toUpperCase() === 'MSFT' || String(field) === msftConId)) {
        contractRequests++;
      }
    });
    try {
      const [first, concurrent] = await Promise.all([
        contracts.resolveContract({ symbol: 'MSFT' }),
        contracts.resolveContract({ symbol: 'MSFT' }),
      ]);
      const again = await contracts.resolveContract({ symbol: 'msft' });
      const byConId = await contracts.resolveContract({ conId: first.contract.conId });
      expect(concurrent).toBe(first);
      expect(again).toBe(first);
      expect(byConId).toBe(first);
      expect(first.contract).toMatchObject({ symbol: 'MSFT', secType: 'STK', exchange: 'SMART' });
      expect(first.contract.conId).toBe(instrumentsOf((i) => i.symbol === 'MSFT')[0]?.conId);
      expect(first.details.longName).toBeDefined();
      expect(contractRequests).toBe(1);
    } finally {
      removeTap();
    }
  });

  it('searches symbols and names, with the derivative types, the same over REST and MCP', async () => {
    const overRest = await get('/contracts/search', { pattern: 'AAP' });
    expect(overRest.status).toBe(200);
    const { matches } = overRest.body as {
      matches: { symbol: string; conId: number; derivativeSecTypes: string[] }[];
    };
    const aapl = matches.find((match) => match.symbol === 'AAPL');
    expect(aapl?.derivativeSecTypes).toContain('OPT');
    expect(aapl?.conId).toBe(instrumentsOf((i) => i.symbol === 'AAPL' && i.secType === 'STK')[0]?.conId);
    expect((await call('search_contracts', { pattern: 'AAP' })).structured).toEqual(overRest.body);

    const byName = (await get('/contracts/search', { pattern: 'apple' })).body as {
      matches: { symbol: string }[];
    };
    expect(byName.matches.map((match) => match.symbol)).toContain('AAPL');
    const none = (await get('/contracts/search', { pattern: 'QQQQZZ' })).body as { matches: unknown[] };
    expect(none.matches).toEqual([]);
    expect((await get('/contracts/search', { pattern: '' })).status).toBe(400);
  });

  it("gives an underlying's option expirations and strikes per exchange, as the simulator lists them", async () => {
    const [aapl] = instrumentsOf((i) => i.symbol === 'AAPL' && i.secType === 'STK');
    const chain = simulator.market.optionChain(aapl?.conId ?? 0);
    const overRest = await get('/contracts/option-chain', { symbol: 'AAPL' });
    expect(overRest.status).toBe(200);
    const answer = overRest.body as {
      underlying: { conId: number };
      chains: { exchange: string; expirations: string[]; strikes: number[]; multiplier: number }[];
    };
    expect(answer.underlying.conId).toBe(aapl?.conId);
    expect(answer.chains.map((entry) => entry.exchange).sort()).toEqual([...(chain?.exchanges ?? [])].sort());
    for (const entry of answer.chains) {
      expect(entry.expirations).toEqual(chain?.expirations);
      expect(entry.strikes).toEqual(chain?.strikes);
      expect(entry.multiplier).toBe(chain?.multiplier);
    }
    expect((await call('get_option_expirations_strikes', { symbol: 'AAPL' })).structured).toEqual(answer);

    const withoutOptions = (await get('/contracts/option-chain', { symbol: 'MSFT' })).body as {
      chains: unknown[];
    };
    expect(withoutOptions.chains).toEqual([]);
    const unknown = await get('/contracts/option-chain', { symbol: 'XYZQ' });
    expect(unknown.status).toBe(404);
    expect((unknown.body as ErrorBody).message).toContain('XYZQ');
  });

  it('lists the option contracts for an expiry, right and strike range, bounded by limit', async () => {
    const [aapl] = instrumentsOf((i) => i.symbol === 'AAPL' && i.secType === 'STK');
    const chain = simulator.market.optionChain(aapl?.conId ?? 0);
    // An expiry of the chain beyond today's listed options: its contracts come from the listed grid, at
    // every strike the chain reports.
    const listedExpiries = new Set(
      instrumentsOf((i) => i.secType === 'OPT' && i.underlyingConId === aapl?.conId).map(
        (i) => i.lastTradeDate,
      ),
    );
    const expiry = chain?.expirations.find((expiration) => !listedExpiries.has(expiration)) ?? '';
    const strikes = chain?.strikes ?? [];
    const strikeMin = strikes[2] ?? 0;
    const strikeMax = strikes[6] ?? 0;
    const expected = strikes
      .filter((strike) => strike >= strikeMin && strike <= strikeMax)
      .flatMap((strike) =>
        simulator.market.resolve({
          conId: 0,
          symbol: 'AAPL',
          secType: 'OPT',
          lastTradeDateOrContractMonth: expiry,
          strike,
          right: 'C',
          multiplier: '',
          exchange: 'SMART',
          primaryExch: '',
          currency: 'USD',
          localSymbol: '',
          tradingClass: '',
        }),
      );
    expect(expected.length).toBe(5);
    const query = { symbol: 'AAPL', expiry, right: 'C', strikeMin, strikeMax };
    const overRest = await get('/contracts/options', query);
    expect(overRest.status).toBe(200);
    const answer = overRest.body as {
      contracts: { conId: number; strike: number; right: string; expiry: string; multiplier: number }[];
      total: number;
      truncated: boolean;
    };
    expect(answer.total).toBe(expected.length);
    expect(answer.truncated).toBe(false);
    expect(answer.contracts.map((c) => c.conId).sort()).toEqual(expected.map((i) => i.conId).sort());
    expect(answer.contracts.map((c) => c.strike)).toEqual(
      [...answer.contracts.map((c) => c.strike)].sort((a, b) => a - b),
    );
    expect(
      answer.contracts.every((c) => c.right === 'C' && c.expiry === expiry && c.multiplier === 100),
    ).toBe(true);
    expect((await call('get_option_contracts', query)).structured).toEqual(answer);

    const bounded = (await get('/contracts/options', { symbol: 'AAPL', expiry, limit: 4 }))
      .body as typeof answer;
    expect(bounded.contracts).toHaveLength(4);
    expect(bounded.truncated).toBe(true);
    expect(bounded.total).toBe(strikes.length * 2);

    const badRange = await get('/contracts/options', {
      symbol: 'AAPL',
      expiry,
      strikeMin: 300,
      strikeMax: 200,
    });
    expect(badRange.status).toBe(400);
    expect((badRange.body as ErrorBody).message).toContain('[strikeMin]');
    const noExpiry = await get('/contracts/options', { symbol: 'AAPL' });
    expect(noExpiry.status).toBe(400);
    expect((noExpiry.body as ErrorBody).message).toContain('[expiry]');
  });
});
