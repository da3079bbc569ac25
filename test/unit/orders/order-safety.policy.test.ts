import { AppConfigSchema, CONFIG_DEFAULTS, type AppConfig } from '../../../src/config/config.schema';
import {
  isPaperAccount,
  OrderSafetyPolicy,
  type OrderExposure,
  type SafetySubject,
} from '../../../src/orders/order-safety.policy';
import type { AccountRepository } from '../../../src/account/account.repository';

type OrderSettings = AppConfig['orders'];

/** The policy with these order settings, on a gateway managing `accounts`; counts what it asks the broker. */
function policyWith(
  orders: Partial<OrderSettings> = {},
  {
    accounts = ['DU1234567'],
    tradingMode = 'paper',
  }: { accounts?: string[]; tradingMode?: 'paper' | 'live' } = {},
) {
  const config = AppConfigSchema.parse({
    ...CONFIG_DEFAULTS,
    ib: { ...CONFIG_DEFAULTS.ib, tradingMode },
    orders: { ...CONFIG_DEFAULTS.orders, ...orders },
  });
  const asked = { managedAccounts: 0 };
  const broker = {
    managedAccounts: async () => {
      asked.managedAccounts++;
      return Promise.resolve(accounts);
    },
  } as unknown as AccountRepository;
  return { policy: new OrderSafetyPolicy(config, broker), asked };
}

/** An exposure priced at `price` (by `source`), counting how often the price was asked for. */
function exposure(
  quantity: number,
  price: number | undefined,
  { source = 'limit price', multiplier = 1, currency = 'USD' } = {},
) {
  const priced = { times: 0 };
  const subject: OrderExposure = {
    quantity,
    multiplier,
    currency,
    price: async () => {
      priced.times++;
      return Promise.resolve(price === undefined ? undefined : { price, source });
    },
  };
  return { subject, priced };
}

describe('OrderSafetyPolicy', () => {
  describe('the account allow-list (orders.accounts)', () => {
    it('lets the listed accounts through and refuses others, naming the gateway and the list', async () => {
      const { policy } = policyWith({ accounts: ['DU1234567'] }, { accounts: ['DU1234567', 'DU7654321'] });
      expect((await policy.screen(() => ({ account: 'DU1234567' }))).refusal).toBeUndefined();
      expect((await policy.screen(() => ({ account: 'DU7654321' }))).refusal).toBe(
        'account DU7654321 is not one orders may go to through gateway default (orders.accounts: DU1234567)',
      );
    });

    it('judges an order without an account by the account it would go to: the first managed one', async () => {
      const first = policyWith({ accounts: ['DU7654321'] }, { accounts: ['DU1234567', 'DU7654321'] });
      expect((await first.policy.screen(() => ({}))).refusal).toMatch(/account DU1234567 is not one/);
      const allowed = policyWith({ accounts: ['DU1234567'] }, { accounts: ['DU1234567', 'DU7654321'] });
      expect((await allowed.policy.screen(() => ({}))).refusal).toBeUndefined();
    });

    it('asks the broker nothing without a list', async () => {
      const { policy, asked } = policyWith({}, { accounts: ['DU1234567'] });
      expect(await policy.accountRefusal('U999')).toBeUndefined();
      expect(asked.managedAccounts).toBe(0);
    });
  });

  describe('read-only mode', () => {
    it('refuses first, without preparing the request or asking the broker anything', async () => {
      const { policy, asked } = policyWith({ readOnly: true, maxQuantity: 1 });
      const prepare = jest.fn((): SafetySubject => ({ exposure: exposure(100, 1).subject }));
      const screening = await policy.screen(prepare);
      expect(screening.refusal).toContain('read-only mode (orders.readOnly, --read-only)');
      expect(screening.subject).toBeUndefined();
      expect(prepare).not.toHaveBeenCalled();
      expect(asked.managedAccounts).toBe(0);
    });

    it('refuses even with live orders allowed', async () => {
      const { policy } = policyWith({ readOnly: true, allowLive: true });
      expect((await policy.screen(() => ({}))).refusal).toContain('read-only mode');
    });

    it('lets errors of the preparation through when not read-only', async () => {
      const { policy } = policyWith();
      await expect(
        policy.screen(() => {
          throw new Error('no such contract');
        }),
      ).rejects.toThrow('no such contract');
    });
  });

  describe('live accounts', () => {
    it('tells paper accounts (D...) from live ones (U..., F..., I...)', () => {
      expect(['DU1234567', 'DF7654321'].map(isPaperAccount)).toEqual([true, true]);
      expect(['U1234567', 'F1234567', 'I1234567', ''].map(isPaperAccount)).toEqual([
        false,
        false,
        false,
        false,
      ]);
    });

    it('allows a paper account and hands back what was prepared', async () => {
      const { policy, asked } = policyWith();
      const prepared = { account: 'DU1234567', extra: 42 };
      const screening = await policy.screen(async () => Promise.resolve(prepared));
      expect(screening).toEqual({ subject: prepared });
      expect(asked.managedAccounts).toBe(1);
    });

    it('refuses a live account the order names, naming it and the setting', async () => {
      const { policy } = policyWith({}, { accounts: ['DU1234567', 'U7654321'] });
      const screening = await policy.screen(() => ({ account: 'U7654321' }));
      expect(screening.refusal).toBe(
        'account U7654321 is a live account (IB paper accounts start with D) and live orders are not enabled (orders.allowLive, --allow-live-orders)',
      );
      expect(screening.subject).toEqual({ account: 'U7654321' });
    });

    it('checks only the named account when one is named', async () => {
      const { policy } = policyWith({}, { accounts: ['DU1234567', 'U7654321'] });
      expect((await policy.screen(() => ({ account: 'DU1234567' }))).refusal).toBeUndefined();
    });

    it('checks every managed account when none is named, listing the live ones', async () => {
      const { policy } = policyWith({}, { accounts: ['DU1', 'U2', 'F3', ''] });
      expect((await policy.screen(() => ({}))).refusal).toContain('account U2, F3 is a live account');
    });

    it('ignores empty account names IB may list', async () => {
      const { policy } = policyWith({}, { accounts: ['', 'DU1234567'] });
      expect((await policy.screen(() => ({}))).refusal).toBeUndefined();
    });

    it('refuses when the config says the gateway trades live, even on a D account, without asking IB', async () => {
      const { policy, asked } = policyWith({}, { tradingMode: 'live' });
      const screening = await policy.screen(() => ({ account: 'DU1234567' }));
      expect(screening.refusal).toContain('ib.tradingMode live');
      expect(asked.managedAccounts).toBe(0);
    });

    it('allows live accounts and live trading mode once orders.allowLive is set, without asking IB', async () => {
      const { policy, asked } = policyWith(
        { allowLive: true },
        { accounts: ['U7654321'], tradingMode: 'live' },
      );
      expect((await policy.screen(() => ({ account: 'U7654321' }))).refusal).toBeUndefined();
      expect(asked.managedAccounts).toBe(0);
    });

    it('refuses a live account before looking at the limits (no price is fetched)', async () => {
      const { policy } = policyWith({ maxNotional: 10 }, { accounts: ['U1'] });
      const { subject, priced } = exposure(5, 100);
      const screening = await policy.screen(() => ({ exposure: subject }));
      expect(screening.refusal).toContain('live account');
      expect(priced.times).toBe(0);
    });
  });

  describe('per-order limits', () => {
    it('allows exactly maxQuantity and refuses one more, naming the limit and the value', async () => {
      const { policy } = policyWith({ maxQuantity: 10 });
      expect((await policy.screen(() => ({ exposure: exposure(10, 1).subject }))).refusal).toBeUndefined();
      expect((await policy.screen(() => ({ exposure: exposure(10.5, 1).subject }))).refusal).toBe(
        'quantity 10.5 exceeds the per-order limit orders.maxQuantity = 10',
      );
    });

    it('refuses on quantity before pricing the order', async () => {
      const { policy } = policyWith({ maxQuantity: 1, maxNotional: 1_000_000 });
      const { subject, priced } = exposure(2, 1);
      expect((await policy.screen(() => ({ exposure: subject }))).refusal).toContain('maxQuantity');
      expect(priced.times).toBe(0);
    });

    it('does not price the order when no notional limit is set', async () => {
      const { policy } = policyWith({ maxQuantity: 100 });
      const { subject, priced } = exposure(5, 1_000_000);
      expect((await policy.screen(() => ({ exposure: subject }))).refusal).toBeUndefined();
      expect(priced.times).toBe(0);
    });

    it('allows a notional of exactly maxNotional and refuses above it, showing the arithmetic', async () => {
      const { policy } = policyWith({ maxNotional: 1000 });
      const atLimit = exposure(10, 100);
      expect((await policy.screen(() => ({ exposure: atLimit.subject }))).refusal).toBeUndefined();
      expect(atLimit.priced.times).toBe(1);
      const above = exposure(10, 100.01, { source: 'current ask' });
      expect((await policy.screen(() => ({ exposure: above.subject }))).refusal).toBe(
        'notional 1000.1 USD (quantity 10 × current ask 100.01) exceeds the per-order limit orders.maxNotional = 1000',
      );
    });

    it('counts the multiplier in the notional and says so', async () => {
      const { policy } = policyWith({ maxNotional: 1000 });
      const option = exposure(1, 5, { multiplier: 100 });
      expect((await policy.screen(() => ({ exposure: option.subject }))).refusal).toBeUndefined();
      const twoOptions = exposure(3, 5, { multiplier: 100, currency: 'EUR' });
      expect((await policy.screen(() => ({ exposure: twoOptions.subject }))).refusal).toBe(
        'notional 1500 EUR (quantity 3 × limit price 5 × multiplier 100) exceeds the per-order limit orders.maxNotional = 1000',
      );
    });

    it('refuses an order it cannot price when a notional limit is set', async () => {
      const { policy } = policyWith({ maxNotional: 1000 });
      expect((await policy.screen(() => ({ exposure: exposure(1, undefined).subject }))).refusal).toBe(
        'its notional cannot be checked against orders.maxNotional = 1000: no price is available for the contract',
      );
    });

    it('has nothing to check for requests without exposure (cancels)', async () => {
      const { policy } = policyWith({ maxQuantity: 1, maxNotional: 1 });
      expect(await policy.screen(() => ({ account: 'DU1' }))).toEqual({ subject: { account: 'DU1' } });
    });
  });
});
