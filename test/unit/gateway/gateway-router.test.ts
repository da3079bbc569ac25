import { DomainError } from '../../../src/common/domain-error';
import { AppConfigSchema, CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import { GatewayRouter, type GatewayUnit } from '../../../src/gateway/gateway-router';
import type { GatewayService } from '../../../src/gateway/gateway.service';

/** A gateway unit that manages `accounts` and knows `orderIds`; counts how often its accounts are asked. */
function unit(name: string, accounts: string[], orderIds: number[] = [], keys: string[] = []) {
  const asked = { accounts: 0 };
  const config = AppConfigSchema.parse({ ...CONFIG_DEFAULTS, gateway: { ...CONFIG_DEFAULTS.gateway, name } });
  const gatewayUnit: GatewayUnit = {
    name,
    required: true,
    config,
    gateway: {} as GatewayService,
    get: () => {
      throw new Error('not used here');
    },
    accounts: async () => {
      asked.accounts++;
      return Promise.resolve(accounts);
    },
    condition: () => ({ health: 'data-flowing', connected: true }),
    knowsOrder: ({ orderId, idempotencyKey }) =>
      (orderId !== undefined && orderIds.includes(orderId)) ||
      (idempotencyKey !== undefined && keys.includes(idempotencyKey)),
  };
  return { unit: gatewayUnit, asked };
}

/** The 400 a call throws, as the API answers it. */
async function refusal(call: () => unknown): Promise<DomainError> {
  try {
    await call();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('GatewayRouter', () => {
  const paper = unit('paper', ['DU1234567', 'DU1234568'], [7, 8], ['key-paper']);
  const live = unit('live', ['U1234567'], [8, 9]);
  const router = new GatewayRouter([paper.unit, live.unit], 'live');

  it('sends an operation to the gateway it names, whatever else it says', async () => {
    expect(router.named({ gateway: 'paper' }).name).toBe('paper');
    expect(router.forData({ gateway: 'paper' }).name).toBe('paper');
    expect((await router.forAccount({ gateway: 'paper' })).name).toBe('paper');
    expect(router.forOrder({ gateway: 'live', orderId: 7 }).name).toBe('live');
  });

  it('refuses an unknown gateway name with the list of names', async () => {
    const error = await refusal(() => router.named({ gateway: 'demo' }));
    expect([error.code, error.message]).toEqual([
      'INVALID_INPUT',
      'No gateway is named demo; the gateways: paper, live',
    ]);
    expect(error.details).toEqual({ gateways: ['paper', 'live'] });
    expect(router.tryForData({ gateway: 'demo' })).toBeUndefined();
  });

  it('routes market data to the data gateway unless one is named', () => {
    expect(router.forData({}).name).toBe('live');
    expect(router.isDataGateway(live.unit)).toBe(true);
  });

  it('routes by account to the gateway that manages it', async () => {
    expect((await router.forAccount({ account: 'DU1234568' })).name).toBe('paper');
    expect((await router.forAccount({ account: 'U1234567' })).name).toBe('live');
  });

  it('refuses an account no gateway manages, saying which manages what', async () => {
    const error = await refusal(async () => router.forAccount({ account: 'U7777777' }));
    expect(error.message).toBe(
      'No gateway manages account U7777777: paper manages DU1234567, DU1234568; live manages U1234567',
    );
  });

  it('refuses an account that the named gateway does not manage', async () => {
    const error = await refusal(async () => router.forAccount({ gateway: 'live', account: 'DU1234567' }));
    expect(error.message).toBe('Gateway live does not manage account DU1234567 (it manages U1234567)');
  });

  it('answers 400 with the choices when several gateways could answer and nothing decides', async () => {
    for (const call of [
      () => router.named({}),
      async () => router.forAccount({}),
      () => router.forOrder({ orderId: 8 }),
      () => router.forOrder({ orderId: 99 }),
    ]) {
      const error = await refusal(call);
      expect(error.httpStatus).toBe(400);
      expect(error.message).toMatch(
        /^Several gateways could answer \(.+\): give gateway, one of paper, live$/,
      );
    }
    expect((await refusal(() => router.forOrder({ orderId: 8 }))).message).toContain(
      'order 8 is known to paper and live',
    );
  });

  it('finds an order by its id or its idempotency key when one gateway knows it', () => {
    expect(router.forOrder({ orderId: 7 }).name).toBe('paper');
    expect(router.forOrder({ orderId: 9 }).name).toBe('live');
    expect(router.forOrder({ idempotencyKey: 'key-paper' }).name).toBe('paper');
  });

  it('with one gateway, sends everything there without asking it anything', async () => {
    const only = unit('default', ['DU1234567']);
    const single = new GatewayRouter([only.unit], 'default');
    expect(single.named({}).name).toBe('default');
    expect((await single.forAccount({ account: 'U999' })).name).toBe('default');
    expect(single.forOrder({ orderId: 12345 }).name).toBe('default');
    expect(only.asked.accounts).toBe(0);
  });
});
