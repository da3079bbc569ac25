import { McpController, Prompt, type PromptResult } from '@rekog/mcp-nest';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import {
  ExplainPositionPnlArguments,
  PlaceOrderSafelyArguments,
  ReviewPortfolioArguments,
  TroubleshootGatewayArguments,
} from './prompts.schemas';

/** Checks a prompt's string arguments; a bad one is the protocol's invalid-params error, naming it. */
function parseArguments<T extends z.ZodType>(schema: T, raw: unknown): z.infer<T> {
  const parsed = schema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (issue) => `${issue.path.join('.') || 'arguments'}: ${issue.message}`,
  );
  throw new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    `Invalid prompt arguments: ${problems.join('; ')}`,
  );
}

/** One user message: what the assistant is asked to do, step by step, naming the tools to use. */
function ask(description: string, steps: readonly string[]): PromptResult {
  const text = steps.map((step, index) => `${index + 1}. ${step}`).join('\n');
  return { description, messages: [{ role: 'user', content: { type: 'text', text } }] };
}

/** `, account DU123` style phrases for the optional arguments, and the same in tool-argument form. */
const scope = (values: { account?: string | undefined; gateway?: string | undefined }): string =>
  [values.account && `account ${values.account}`, values.gateway && `gateway ${values.gateway}`]
    .filter(Boolean)
    .map((part) => ` (${String(part)})`)
    .join('');

/**
 * The common jobs an assistant does with this service, as MCP prompts: each lays out the tools to call, in
 * order, and where a human must decide. Prompts are additions to the operations (not REST routes).
 */
@McpController('prompts')
export class PromptsController {
  @Prompt({
    name: 'place_order_safely',
    description:
      'Preview an order with IB what-if, show the human its cost and risk, and place it only after a yes',
    parameters: PlaceOrderSafelyArguments,
  })
  placeOrderSafely(raw: unknown): PromptResult {
    const order = parseArguments(PlaceOrderSafelyArguments, raw);
    const type = order.orderType ?? 'LMT';
    const price = order.limitPrice === undefined ? '' : ` at ${order.limitPrice}`;
    const wanted = `${order.side} ${order.quantity} ${order.symbol} ${type}${price}${scope(order)}`;
    return ask(`Place ${wanted} safely`, [
      `I want to ${wanted}. Do not place anything until step 5.`,
      `Call \`get_contract_details\` for ${order.symbol} and make sure it is the instrument I mean (name, exchange, currency); if several match, ask me which.`,
      `Call \`get_quote\` for it and tell me bid, ask and last, with the data type (live or delayed).${type === 'LMT' && order.limitPrice === undefined ? ' Propose a limit price from the quote and ask me to confirm it.' : ''}`,
      `Call \`preview_order\` with exactly these parameters. Show me the what-if: initial and maintenance margin change, commission, and equity with loan after; say plainly if any safety cap or check refused it.`,
      `Ask me to confirm the exact order. Only after a clear yes, call \`place_order\` with the same parameters and a new \`idempotencyKey\`. If the answer is uncertain (timeout, 503), retry with the same key: never with a new one, or the order may be placed twice.`,
      `Call \`get_order_status\` for the order id and tell me its status; if it is working, say how I can cancel it (\`cancel_order\`).`,
    ]);
  }

  @Prompt({
    name: 'review_portfolio',
    description: "Review the account's positions, margin and open orders, and name the risks",
    parameters: ReviewPortfolioArguments,
  })
  reviewPortfolio(raw: unknown): PromptResult {
    const review = parseArguments(ReviewPortfolioArguments, raw);
    const focus = review.focus === undefined ? '' : ` Look most closely at: ${review.focus}.`;
    return ask(`Review the portfolio${scope(review)}`, [
      `Review my portfolio${scope(review)}. Read only: do not place, modify or cancel anything.${focus}`,
      'Call `get_account_summary` for net liquidation, excess liquidity, buying power and maintenance margin; the margin cushion is excess liquidity divided by net liquidation.',
      'Call `get_positions` and `get_pnl`: list the positions by market value, with each one as a share of net liquidation, and the daily, unrealized and realized PnL.',
      'Call `get_open_orders` and say what each would change if it filled.',
      'Name the risks: concentration (any position over 20 % of net liquidation), a thin margin cushion (under 10 %), options near expiry, large unrealized losses, orders that would add to the largest risk. Suggest what I could do, and leave the decisions to me.',
    ]);
  }

  @Prompt({
    name: 'explain_position_pnl',
    description: "Explain one position's profit and loss: cost, price, today's move and the fills behind it",
    parameters: ExplainPositionPnlArguments,
  })
  explainPositionPnl(raw: unknown): PromptResult {
    const position = parseArguments(ExplainPositionPnlArguments, raw);
    return ask(`Explain the PnL of ${position.symbol}${scope(position)}`, [
      `Explain the profit and loss of my ${position.symbol} position${scope(position)}. Read only.`,
      `Call \`get_positions\` and find ${position.symbol}: quantity and average cost. If I hold none, say so and stop.`,
      `Call \`get_position_pnl\` for it: daily, unrealized and realized PnL, and its market value.`,
      `Call \`get_quote\` for the current price and \`get_executions\` for the fills behind the position.`,
      'Explain the numbers: unrealized = (price - average cost) x quantity x multiplier; realized comes from closed quantity; the daily PnL is the move since the previous close. Say which fills made the average cost, and whether commissions are in it.',
    ]);
  }

  @Prompt({
    name: 'troubleshoot_gateway',
    description: 'Find out why the gateway or its data is not working, and what to do about it',
    parameters: TroubleshootGatewayArguments,
  })
  troubleshootGateway(raw: unknown): PromptResult {
    const trouble = parseArguments(TroubleshootGatewayArguments, raw);
    const symptom = trouble.symptom === undefined ? '' : ` What I see: ${trouble.symptom}.`;
    return ask(`Troubleshoot the gateway${scope(trouble)}`, [
      `Help me find out what is wrong with the IB gateway${scope(trouble)}.${symptom} Do not restart anything without asking me.`,
      'Call `list_gateways`, then `get_gateway_status` and `get_connection_status`: is the gateway running and logged in, is the API session connected?',
      'Call `get_health_status` and `get_health_events`: is data flowing or stale, which rung of the recovery ladder ran last, is the restart circuit breaker open?',
      "Call `get_gateway_logs` and look for IBC's login messages (second-factor prompt, login failed, existing session, too many failed logins).",
      'Tell me the cause and the fix. Awaiting two-factor: I must approve on my phone (or open /vnc). Login failed: check the username and password files; automatic restarts stop so the account is not locked. Existing session: another login holds the account. Breaker open: the gateway was restarted too often; find the cause first. Only if it is none of these, offer `restart_gateway` and wait for my yes.',
    ]);
  }
}
