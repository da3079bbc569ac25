import { z } from 'zod';

// MCP prompt arguments arrive as strings (the protocol has no other type): each is checked here.

const symbol = z
  .string()
  .regex(/^[A-Za-z0-9.\- ]{1,20}$/, 'must be a symbol such as AAPL or EUR.USD')
  .describe('The symbol, e.g. AAPL (FX as EUR.USD)');
const account = z
  .string()
  .regex(/^[A-Za-z0-9]{1,20}$/, 'must be an IB account id such as DU1234567')
  .optional()
  .describe('The IB account; default the only (or first) managed account');
const gateway = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be a gateway name as list_gateways shows it')
  .optional()
  .describe('The gateway, by the name list_gateways shows; default the only one');

export const PlaceOrderSafelyArguments = z.object({
  symbol,
  side: z.enum(['BUY', 'SELL']).describe('BUY or SELL'),
  quantity: z
    .string()
    .regex(/^(?!0+(\.0+)?$)\d+(\.\d+)?$/, 'must be a positive number')
    .describe('How many shares or contracts'),
  orderType: z
    .enum(['MKT', 'LMT', 'STP', 'STP LMT'])
    .optional()
    .describe('MKT, LMT (default), STP or STP LMT'),
  limitPrice: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a price such as 187.25')
    .optional()
    .describe('The limit price, for LMT and STP LMT'),
  account,
  gateway,
});

export const ReviewPortfolioArguments = z.object({
  account,
  focus: z
    .string()
    .max(200, 'must be at most 200 characters')
    .optional()
    .describe('What to look at most closely, e.g. "concentration" or "margin"'),
  gateway,
});

export const ExplainPositionPnlArguments = z.object({ symbol, account, gateway });

export const TroubleshootGatewayArguments = z.object({
  gateway,
  symptom: z
    .string()
    .max(300, 'must be at most 300 characters')
    .optional()
    .describe('What looks wrong, e.g. "quotes stopped" or "orders time out"'),
});
