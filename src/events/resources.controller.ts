import { Inject, Logger } from '@nestjs/common';
import { ProtocolError, ProtocolErrorCode, type ReadResourceResult } from '@modelcontextprotocol/server';
import { McpController, Resource, ResourceTemplate } from '@rekog/mcp-nest';
import { AccountService } from '../account/account.service';
import { errorBody } from '../common/api-exception.filter';
import { DomainError } from '../common/domain-error';
import { REDACTOR, type Redactor } from '../common/redactor';
import { GatewayLogsInput } from '../gateway/gateway.schemas';
import { GatewayRouter } from '../gateway/gateway-router';
import { HealthService } from '../health/health.service';
import { GetQuoteInput } from '../market-data/market-data.schemas';
import { MarketDataService } from '../market-data/market-data.service';
import { OrderJournalInput } from '../orders/orders.schemas';
import { OrdersService } from '../orders/orders.service';
import {
  PER_GATEWAY_QUOTE_TEMPLATE,
  perGatewayTemplate,
  QUOTE_TEMPLATE,
  RESOURCE_SCHEME,
  resourceUri,
  type ResourcePath,
} from './resource-uris';

const JSON_MIME = 'application/json';

/** What each fixed resource holds: the answer of the REST route (and tool) of the same read, unchanged. */
const READS: Readonly<Record<ResourcePath, (router: GatewayRouter, gateway?: string) => unknown>> = {
  // GET /account/summary, /account/positions: every managed account of the gateway.
  'account/summary': async (router, gateway) =>
    (await router.forAccount({ gateway })).get(AccountService).summary(undefined),
  'account/positions': async (router, gateway) =>
    (await router.forAccount({ gateway })).get(AccountService).positions(undefined),
  'orders/open': async (router, gateway) => router.named({ gateway }).get(OrdersService).openOrders(),
  // GET /orders/journal: the newest 100 entries.
  'orders/journal': async (router, gateway) =>
    (await router.forAccount({ gateway })).get(OrdersService).journalEntries(OrderJournalInput.parse({})),
  'health/status': (router, gateway) => router.named({ gateway }).get(HealthService).status(),
  // GET /gateway/logs: the last 100 lines.
  'gateway/logs': async (router, gateway) =>
    router.named({ gateway }).gateway.logs(GatewayLogsInput.parse({}).lines),
};

/** What mcp-nest hands a resource handler: the URI read and the template's variables. */
interface ReadRequest {
  uri: string;
  gateway?: string | undefined;
  symbol?: string | undefined;
}

function readRequestOf(payload: unknown): ReadRequest {
  const fields = (payload ?? {}) as Record<string, unknown>;
  const text = (name: string): string | undefined =>
    typeof fields[name] === 'string' ? fields[name] : undefined;
  const uri = text('uri') ?? '';
  // mcp-nest matches URIs without their scheme: another scheme's URI is not one of ours.
  if (!uri.startsWith(`${RESOURCE_SCHEME}://`)) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown resource: ${uri}`);
  }
  return { uri, gateway: text('gateway'), symbol: text('symbol') };
}

/**
 * Resources: the live state an assistant keeps in view (balances, positions, open orders, the order
 * journal, health, the gateway's log, quotes), read through the same services as the operations and
 * announced when they change (ResourceUpdates). Each is `ibgs://<path>` for the only gateway (quotes: the
 * gateway for data) and `ibgs://gateways/<gateway>/<path>` for a named one. Reads only: the read-only
 * token may read them all.
 */
@McpController('resources')
export class ResourcesController {
  private readonly logger = new Logger('ResourcesController');

  constructor(
    private readonly router: GatewayRouter,
    @Inject(REDACTOR) private readonly redactor: Redactor,
  ) {}

  @Resource({
    uri: resourceUri('account/summary'),
    name: 'account_summary',
    description: 'Balances and margin of every managed account (as get_account_summary)',
    mimeType: JSON_MIME,
  })
  async accountSummary(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'account/summary');
  }

  @ResourceTemplate({
    uriTemplate: perGatewayTemplate('account/summary'),
    name: 'gateway_account_summary',
    description: 'Balances and margin of the accounts of one gateway (list_gateways names them)',
    mimeType: JSON_MIME,
  })
  async gatewayAccountSummary(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'account/summary');
  }

  @Resource({
    uri: resourceUri('account/positions'),
    name: 'positions',
    description: 'Every open position with market value and PnL (as get_positions)',
    mimeType: JSON_MIME,
  })
  async positions(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'account/positions');
  }

  @ResourceTemplate({
    uriTemplate: perGatewayTemplate('account/positions'),
    name: 'gateway_positions',
    description: 'The open positions of one gateway',
    mimeType: JSON_MIME,
  })
  async gatewayPositions(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'account/positions');
  }

  @Resource({
    uri: resourceUri('orders/open'),
    name: 'open_orders',
    description: 'Every working order, as IB reports it now (as get_open_orders)',
    mimeType: JSON_MIME,
  })
  async openOrders(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'orders/open');
  }

  @ResourceTemplate({
    uriTemplate: perGatewayTemplate('orders/open'),
    name: 'gateway_open_orders',
    description: 'The working orders of one gateway',
    mimeType: JSON_MIME,
  })
  async gatewayOpenOrders(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'orders/open');
  }

  @Resource({
    uri: resourceUri('orders/journal'),
    name: 'order_journal',
    description: 'The newest 100 entries of the order audit journal (as get_order_journal)',
    mimeType: JSON_MIME,
  })
  async orderJournal(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'orders/journal');
  }

  @ResourceTemplate({
    uriTemplate: perGatewayTemplate('orders/journal'),
    name: 'gateway_order_journal',
    description: 'The newest 100 entries of one gateway’s order journal',
    mimeType: JSON_MIME,
  })
  async gatewayOrderJournal(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'orders/journal');
  }

  @Resource({
    uri: resourceUri('health/status'),
    name: 'health_status',
    description: 'The health state and why, the watchdog, the recovery ladder (as get_health_status)',
    mimeType: JSON_MIME,
  })
  async healthStatus(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'health/status');
  }

  @ResourceTemplate({
    uriTemplate: perGatewayTemplate('health/status'),
    name: 'gateway_health_status',
    description: 'The health of one gateway',
    mimeType: JSON_MIME,
  })
  async gatewayHealthStatus(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'health/status');
  }

  @Resource({
    uri: resourceUri('gateway/logs'),
    name: 'gateway_logs',
    description: "The gateway's last 100 log lines, credentials redacted (as get_gateway_logs)",
    mimeType: JSON_MIME,
  })
  async gatewayLogs(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'gateway/logs');
  }

  @ResourceTemplate({
    uriTemplate: perGatewayTemplate('gateway/logs'),
    name: 'named_gateway_logs',
    description: 'The last 100 log lines of one gateway',
    mimeType: JSON_MIME,
  })
  async namedGatewayLogs(payload: unknown): Promise<ReadResourceResult> {
    return this.readFixed(payload, 'gateway/logs');
  }

  @ResourceTemplate({
    uriTemplate: QUOTE_TEMPLATE,
    name: 'quote',
    description:
      'The quote of a stock (or EUR.USD-style currency pair) by symbol, from the gateway for data (as get_quote); live from the stream when the symbol streams',
    mimeType: JSON_MIME,
  })
  async quote(payload: unknown): Promise<ReadResourceResult> {
    return this.readQuote(payload);
  }

  @ResourceTemplate({
    uriTemplate: PER_GATEWAY_QUOTE_TEMPLATE,
    name: 'gateway_quote',
    description: 'The quote of a symbol from one gateway',
    mimeType: JSON_MIME,
  })
  async gatewayQuote(payload: unknown): Promise<ReadResourceResult> {
    return this.readQuote(payload);
  }

  private async readFixed(payload: unknown, path: ResourcePath): Promise<ReadResourceResult> {
    const request = readRequestOf(payload);
    return this.answer(request.uri, () => READS[path](this.router, request.gateway));
  }

  private async readQuote(payload: unknown): Promise<ReadResourceResult> {
    const request = readRequestOf(payload);
    const input = GetQuoteInput.safeParse({ symbol: request.symbol, gateway: request.gateway });
    if (!input.success) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown resource: ${request.uri}`);
    }
    return this.answer(request.uri, async () =>
      this.router.forData(input.data).get(MarketDataService).getQuote(input.data),
    );
  }

  /**
   * The value as one JSON text content; a failure as the protocol's error (the result of a read has no
   * `isError`): what names no resource (an unknown gateway or symbol) is invalid params (-32602, the
   * 2026-07-28 revision's "resource not found"), anything else an internal error with the REST message.
   */
  private async answer(uri: string, read: () => unknown): Promise<ReadResourceResult> {
    let value: unknown;
    try {
      value = await read();
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      const body = this.redactor.redactDeep(errorBody(error, this.logger));
      const missing = error instanceof DomainError && ['INVALID_INPUT', 'NOT_FOUND'].includes(error.code);
      throw new ProtocolError(
        missing ? ProtocolErrorCode.InvalidParams : ProtocolErrorCode.InternalError,
        `${uri}: ${body.message}`,
        { code: body.code, statusCode: body.statusCode },
      );
    }
    return { contents: [{ uri, mimeType: JSON_MIME, text: JSON.stringify(value) }] };
  }
}
