import {
  comboTickSize,
  comboUnitNotional,
  describedLegs,
  legSide,
  resolveCombo,
} from '../../../src/orders/combo-legs';
import { comboIssues, legIssues, type ComboLegInput } from '../../../src/orders/combo-legs.schemas';
import { roundToTick } from '../../../src/orders/tick-size';
import { StagedOrders } from '../../../src/orders/staged-orders';
import { DomainError } from '../../../src/common/domain-error';
import type { TrackedOrder } from '../../../src/orders/order-model';
import type { QualifiedContract } from '../../../src/contracts/contracts.service';

const option = (strike: number, action: 'BUY' | 'SELL', ratio = 1): ComboLegInput => ({
  symbol: 'AAPL',
  secType: 'OPT',
  expiry: '20250620',
  strike,
  right: 'C',
  ratio,
  action,
});

describe('combo tick size: the smallest tick among the legs at the price', () => {
  it('takes the finest leg tick, ignoring legs without a rule', () => {
    expect(comboTickSize([0.05, 0.01])).toBe(0.01);
    expect(comboTickSize([0.05, undefined, 0.05])).toBe(0.05);
    expect(comboTickSize([undefined])).toBeUndefined();
    expect(comboTickSize([])).toBeUndefined();
  });

  it('rounds a combo price, a credit included, toward the passive side', () => {
    expect(roundToTick(1.234, 0.01, 'down')).toBe(1.23);
    expect(roundToTick(-1.234, 0.01, 'down')).toBe(-1.24);
    expect(roundToTick(-1.234, 0.05, 'up')).toBe(-1.2);
  });
});

describe('combo notional per unit', () => {
  it('prices an option spread at |net limit| × multiplier', () => {
    const legs = [
      { ratio: 1, multiplier: 100, price: 5, sign: 1 as const },
      { ratio: 1, multiplier: 100, price: 3, sign: -1 as const },
    ];
    expect(comboUnitNotional(legs, 2.5)).toEqual({ perUnit: 250, source: 'net limit price' });
    expect(comboUnitNotional(legs, -1.5).perUnit).toBe(150);
    expect(comboUnitNotional(legs, undefined)).toEqual({ perUnit: 200, source: "legs' net market price" });
  });

  it("sums the legs' own notionals when multipliers differ (stock and option)", () => {
    const legs = [
      { ratio: 100, multiplier: 1, price: 200, sign: 1 as const },
      { ratio: 1, multiplier: 100, price: 4, sign: -1 as const },
    ];
    expect(comboUnitNotional(legs, 196)).toEqual({ perUnit: 20_400, source: "legs' notionals summed" });
  });
});

describe('leg validation', () => {
  it('needs symbol or conId, and expiry, strike, right for an OPT leg named by symbol', () => {
    expect(legIssues({ secType: 'STK', ratio: 1, action: 'BUY' }, 0)).toEqual([
      { path: ['legs', '0', 'symbol'], message: 'either symbol or conId is required' },
    ]);
    expect(
      legIssues({ symbol: 'AAPL', secType: 'OPT', ratio: 1, action: 'BUY' }, 1).map((issue) => issue.path),
    ).toEqual([
      ['legs', '1', 'expiry'],
      ['legs', '1', 'strike'],
      ['legs', '1', 'right'],
    ]);
    expect(legIssues({ conId: 123, secType: 'OPT', ratio: 1, action: 'BUY' }, 0)).toEqual([]);
    expect(
      legIssues({ symbol: 'AAPL', secType: 'STK', strike: 5, ratio: 100, action: 'BUY' }, 0)[0]?.path,
    ).toEqual(['legs', '0', 'strike']);
  });

  it('refuses contract fields, types other than MKT/LMT and the same contract twice', () => {
    const issues = comboIssues({
      legs: [option(100, 'BUY'), option(100, 'SELL')],
      orderType: 'STP',
      symbol: 'AAPL',
    });
    expect(issues.map((issue) => issue.path.join('.'))).toEqual(['symbol', 'orderType', 'legs.1']);
    expect(comboIssues({ legs: [option(100, 'BUY'), option(105, 'SELL')], orderType: 'LMT' })).toEqual([]);
    expect(comboIssues({ orderType: 'STP' })).toEqual([]);
  });

  it("reverses a leg's side for a SELL combo", () => {
    expect(legSide({ action: 'BUY' }, 'SELL')).toBe('SELL');
    expect(legSide({ action: 'SELL' }, 'SELL')).toBe('BUY');
    expect(legSide({ action: 'SELL' }, 'BUY')).toBe('SELL');
  });
});

describe('combo resolution', () => {
  const qualified = (
    conId: number,
    secType: string,
    extra: Record<string, unknown> = {},
  ): QualifiedContract =>
    ({
      contract: { conId, symbol: 'AAPL', secType, currency: 'USD', exchange: 'SMART', ...extra },
      details: {},
    }) as unknown as QualifiedContract;

  it('builds the BAG contract of resolved legs, and names the leg that does not resolve', async () => {
    const contracts = {
      resolveContract: async (query: { strike?: number; secType?: string; conId?: number }) => {
        await Promise.resolve(); // as if IB were asked
        if (query.strike === 999) throw new DomainError('NOT_FOUND', 'No contract matches AAPL OPT 999');
        const stock = query.conId === 265598 || query.secType === 'STK';
        return stock
          ? qualified(265598, 'STK')
          : qualified(5000 + (query.strike ?? 0), 'OPT', { multiplier: '100', strike: query.strike });
      },
    };
    const combo = await resolveCombo(
      contracts,
      [{ symbol: 'AAPL', secType: 'STK', ratio: 100, action: 'BUY' }, option(200, 'SELL')],
      undefined,
    );
    expect(combo.contract).toMatchObject({
      conId: 0,
      symbol: 'AAPL',
      secType: 'BAG',
      exchange: 'SMART',
      currency: 'USD',
    });
    expect(combo.contract.comboLegs?.map(({ conId, ratio, action }) => ({ conId, ratio, action }))).toEqual([
      { conId: 265598, ratio: 100, action: 'BUY' },
      { conId: 5200, ratio: 1, action: 'SELL' },
    ]);
    await expect(
      resolveCombo(contracts, [option(200, 'BUY'), option(999, 'SELL')], undefined),
    ).rejects.toThrow(/legs\[1\] does not resolve to a contract: No contract matches AAPL OPT 999/);
    const described = await describedLegs(contracts, [{ conId: 265598, ratio: 100, action: 'BUY' }]);
    expect(described).toEqual([{ conId: 265598, symbol: 'AAPL', secType: 'STK', ratio: 100, action: 'BUY' }]);
  });
});

describe('combo resolution when IB cannot answer', () => {
  it('keeps a lost session or a timeout what it is (retry later), never a 400 naming the leg', async () => {
    const contracts = {
      resolveContract: async () => {
        await Promise.resolve();
        throw new DomainError('NOT_CONNECTED', 'The IB API session closed before IB answered');
      },
    };
    await expect(
      resolveCombo(contracts, [option(200, 'BUY'), option(205, 'SELL')], undefined),
    ).rejects.toMatchObject({
      code: 'NOT_CONNECTED',
    });
  });
});

describe('staged orders: what transmit_order does', () => {
  const order = (fields: Partial<TrackedOrder>): TrackedOrder => ({
    orderId: 1,
    contract: {},
    side: 'BUY',
    quantity: 1,
    orderType: 'LMT',
    limitPrice: 10,
    outsideRth: false,
    status: 'PreSubmitted',
    filled: 0,
    remaining: 1,
    updatedAt: '',
    ...fields,
  });
  const staged = new StagedOrders();

  it('sends a staged working order; answers a transmitted or never-staged working one', () => {
    expect(staged.planFor(order({ staged: true }))).toBe('send');
    expect(staged.planFor(order({ staged: false, status: 'Filled' }))).toBe('answer');
    expect(staged.planFor(order({ status: 'Submitted' }))).toBe('answer');
  });

  it('refuses one neither staged nor working, or cancelled while staged (CONFLICT)', () => {
    expect(() => staged.planFor(order({ status: 'Filled' }))).toThrow(/was not staged/);
    expect(() => staged.planFor(order({ staged: true, status: 'Cancelled' }))).toThrow(/it was staged/);
  });

  it('transmits with the fields it was staged with, else those IB reports', () => {
    staged.remember(1, { side: 'BUY', quantity: 1, orderType: 'REL', pegOffset: 0.02 });
    expect(staged.fieldsOf(order({ staged: true }))).toMatchObject({ orderType: 'REL', pegOffset: 0.02 });
    staged.forget(1);
    expect(staged.fieldsOf(order({ staged: true }))).toMatchObject({ orderType: 'LMT', limitPrice: 10 });
  });
});
