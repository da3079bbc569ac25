import type { ClientSession } from '../protocol/client-session';
import type { FieldReader } from '../protocol/field-reader';
import { Reply, Request } from '../protocol/message-ids';
import type { SimulatorContext } from '../simulator-context';

/** One step of a market rule: from `lowEdge` up, prices move in steps of `increment`. */
export interface PriceIncrement {
  lowEdge: number;
  increment: number;
}

/**
 * The market rules the simulator's contract details list (marketRuleIds), as REQ_MARKET_RULE answers them.
 * 26 is IB's rule for US stocks (sub-penny below $1, a cent from $1); the others are the simulator's
 * flat steps for its FX, index, futures and options instruments.
 */
export const MARKET_RULES: ReadonlyMap<number, readonly PriceIncrement[]> = new Map([
  [
    26,
    [
      { lowEdge: 0, increment: 0.0001 },
      { lowEdge: 1, increment: 0.01 },
    ],
  ],
  [1021, [{ lowEdge: 0, increment: 0.01 }]],
  [239, [{ lowEdge: 0, increment: 0.00005 }]],
  [110, [{ lowEdge: 0, increment: 0.01 }]],
  [67, [{ lowEdge: 0, increment: 0.25 }]],
  [32, [{ lowEdge: 0, increment: 0.01 }]],
]);

/** The MARKET_RULE message (93): the rule id, the number of increments, then each low edge and increment. */
export function marketRuleMessage(
  ruleId: number,
  increments: readonly PriceIncrement[],
): (string | number)[] {
  return [
    Reply.MARKET_RULE,
    ruleId,
    increments.length,
    ...increments.flatMap(({ lowEdge, increment }) => [lowEdge, increment]),
  ];
}

/**
 * reqMarketRule (91): the rule's increments. IB answers an unknown rule id with nothing at all; so does
 * the simulator.
 */
export function registerMarketRuleHandler(context: SimulatorContext): void {
  context.server.on(Request.REQ_MARKET_RULE, (session: ClientSession, request: FieldReader) => {
    const ruleId = request.int();
    const increments = MARKET_RULES.get(ruleId);
    if (increments) session.send(marketRuleMessage(ruleId, increments));
  });
}
