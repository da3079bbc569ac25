// Drives an IB Gateway (the simulator) through ib-tws-api, a TWS API client independent of @stoqey/ib (an
// ES module based on IB's Python client; its handshake offers v100..151). Jest runs CommonJS, so the test
// (test/integration/simulator/second-client.test.ts) runs this script as a child process and reads the one
// JSON line it prints: what the library made of each answer, step by step. A failing step is reported
// ({ error }) and the script goes on with the next one.
//
// Usage: node drive-ib-tws-api.mjs '<json>' with { port, clientId, restingLimit, marketableLimit, option,
// gridOption } (the options' expiry, strike and right).
import { Client, Contract, Order } from 'ib-tws-api';

const input = JSON.parse(process.argv[2] ?? '{}');
const STEP_MS = 5000;

/** Message ids (IB's IN_MSG_ID) whose ib-tws-api handlers shift their fields one by one. */
const SHIFTING_HANDLERS = {
  1: 'TICK_PRICE',
  2: 'TICK_SIZE',
  3: 'ORDER_STATUS',
  5: 'OPEN_ORDER',
  10: 'CONTRACT_DATA',
  17: 'HISTORICAL_DATA',
  61: 'POSITION',
  75: 'SECURITY_DEFINITION_OPTION_PARAMETER',
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const result = {
  steps: {},
  raw: { handshake: undefined, managedAccounts: undefined },
  leftovers: {},
  errors: [],
};

async function step(name, work) {
  try {
    result.steps[name] = await work();
  } catch (error) {
    result.steps[name] = {
      error: error instanceof Error ? error.message : String(error),
      details: error?.details,
    };
  }
}

/** Resolves with the first event `emitter` emits as `event` that `matches`, or rejects after `ms`. */
function waitForEvent(emitter, event, matches, ms = STEP_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    const listener = (value) => {
      if (!matches(value)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(value);
    };
    emitter.on(event, listener);
  });
}

const client = new Client({
  host: '127.0.0.1',
  port: input.port,
  clientId: input.clientId,
  timeoutMs: STEP_MS,
});
// The library keeps what is not its API on private members: its events (orderStatus, errors without a
// request id) on _emitter, the connection on _protocolBytes, the negotiated version on _serverVersion.
const events = client._emitter;
const statuses = [];
events.on('orderStatus', (status) => statuses.push(status));
events.on('error', (error) => result.errors.push(error));

await step('connect', async () => {
  const connecting = client.connect();
  // The connection's message stream exists once connect() has started: watch it from the first message.
  const stream = client._protocolBytes._emitter;
  let messageId = '';
  stream.prependListener('message_fieldset', (fields) => {
    messageId = '';
    if (result.raw.handshake === undefined && fields.length === 2) result.raw.handshake = [...fields];
    else messageId = fields[0];
    if (messageId === '15') result.raw.managedAccounts = fields[2];
  });
  // After the library's handler (which shifts what it reads off the array): what is left it did not read.
  stream.on('message_fieldset', (fields) => {
    const name = SHIFTING_HANDLERS[messageId];
    if (name !== undefined) (result.leftovers[name] ??= []).push(fields.length);
  });
  await connecting;
  return { serverVersion: client._serverVersion };
});

await step('currentTime', async () => ({ time: await client.getCurrentTime() }));

await step('contractDetails', async () => {
  const details = await client.getContractDetails(Contract.stock('AAPL'));
  return details.map((detail) => ({
    ...detail.contract,
    longName: detail.longName,
    minTick: detail.minTick,
  }));
});

await step('optionDetails', async () => {
  const details = await client.getContractDetails(Contract.option({ symbol: 'AAPL', ...input.option }));
  return details.map((detail) => ({ ...detail.contract, underConId: detail.underConId }));
});

await step('gridOptionDetails', async () => {
  const details = await client.getContractDetails(Contract.option({ symbol: 'AAPL', ...input.gridOption }));
  return details.map((detail) => ({ ...detail.contract, underConId: detail.underConId }));
});

await step('optionChain', async () => {
  const chains = await client.getSecDefOptParams({
    contract: { symbol: 'AAPL', secType: 'STK', conId: 265598 },
    futFopExchange: '',
  });
  return chains.map((chain) => ({
    ...chain,
    expirations: chain.expirations.length,
    strikes: chain.strikes.length,
  }));
});

await step('marketData', async () => {
  const stream = await client.streamMarketData({ contract: Contract.stock('AAPL') });
  const ticks = [];
  let ticker = {};
  stream.on('tick', (tick) => {
    ticks.push(tick.tickType);
    ticker = tick.ticker;
  });
  stream.on('error', (error) => result.errors.push(error));
  const deadline = Date.now() + STEP_MS;
  while (!(ticker.bid > 0 && ticker.ask > 0 && ticker.last > 0) && Date.now() < deadline) await sleep(50);
  stream.stop();
  const { bid, ask, last, bidSize, askSize, volume } = ticker;
  return { ticks: ticks.length, bid, ask, last, bidSize, askSize, volume };
});

await step('marketDataSnapshot', async () => {
  const { bid, ask, last, close } = await client.getMarketDataSnapshot({
    contract: Contract.stock('AAPL'),
  });
  return { bid, ask, last, close };
});

await step('headTimestamp', async () => ({
  headTimestamp: await client.getHeadTimeStamp({
    contract: Contract.stock('AAPL'),
    whatToShow: 'TRADES',
    useRth: 1,
    formatDate: 1,
  }),
}));

await step('historicalData', async () => {
  const data = await client.getHistoricalData({
    contract: Contract.stock('AAPL'),
    endDateTime: '',
    duration: '1 D',
    barSizeSetting: '1 hour',
    whatToShow: 'TRADES',
    useRth: 1,
    formatDate: 1,
    keepUpToDate: false,
  });
  return { dateStart: data.dateStart, dateEnd: data.dateEnd, bars: data.bars };
});

/** Places a limit order and waits for its status to be `wanted`. */
async function placeLimit(action, totalQuantity, lmtPrice, wanted) {
  const orderId = await client.placeOrder({
    contract: Contract.stock('AAPL'),
    order: Order.limit({ action, totalQuantity, lmtPrice }),
  });
  const status = await waitForEvent(
    events,
    'orderStatus',
    (s) => s.orderId === orderId && s.status === wanted,
  ).catch((error) => ({ error: error.message }));
  return { orderId, status, seen: statuses.filter((s) => s.orderId === orderId).map((s) => s.status) };
}

await step('restingOrder', async () => placeLimit('BUY', 10, input.restingLimit, 'Submitted'));
await step('filledOrder', async () => placeLimit('BUY', 5, input.marketableLimit, 'Filled'));

await step('openOrders', async () => {
  const orders = await client.getOpenOrders();
  return orders.map(({ contract, order, orderState }) => ({
    orderId: order.orderId,
    conId: contract.conId,
    symbol: contract.symbol,
    action: order.action,
    totalQuantity: order.totalQuantity,
    orderType: order.orderType,
    lmtPrice: order.lmtPrice,
    permId: order.permId,
    status: orderState.status,
  }));
});

await step('cancel', async () => {
  const orderId = result.steps.restingOrder?.orderId;
  if (orderId === undefined) throw new Error('no resting order to cancel');
  const cancelled = waitForEvent(
    events,
    'orderStatus',
    (s) => s.orderId === orderId && s.status === 'Cancelled',
  ).catch((error) => ({ error: error.message }));
  const reason = await client.cancelOrder(orderId);
  return { orderId, reason, status: await cancelled };
});

await step('positions', async () => {
  const positions = await client.getPositions();
  return Object.values(positions).map(({ contract, position, avgCost }) => ({
    conId: contract.conId,
    symbol: contract.symbol,
    position,
    avgCost,
  }));
});

result.orderStatuses = statuses;
process.stdout.write(`${JSON.stringify(result)}\n`);
client._protocolBytes?.disconnect();
// The library keeps timers of answered requests running; nothing more is to come.
setTimeout(() => process.exit(0), 100);
