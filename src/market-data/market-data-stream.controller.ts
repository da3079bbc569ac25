import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiExtension, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { auditTime, catchError, map, merge, of } from 'rxjs';
import { DomainError } from '../common/domain-error';
import { Input } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice } from '../gateway/gateway-router';
import { toOpenApiSchema } from '../common/zod-json-schema';
import type { IbContract } from '../contracts/contracts.service';
import { MAX_STREAM_SYMBOLS, Quote, StreamQuotesInput } from './market-data.schemas';
import { MarketDataService } from './market-data.service';

/** Ticks arrive one at a time; a client gets at most one quote per contract per this many ms. */
const COALESCE_MS = 100;
const HEARTBEAT_MS = 15_000;
/** Events a client has not read yet, beyond which it is disconnected. */
const MAX_UNREAD_BYTES = 1024 * 1024;

/** One server-sent event: a quote, or the failure of one contract's stream. */
interface StreamEvent {
  event: 'quote' | 'error';
  data: unknown;
}

const queryParameters = toOpenApiSchema(StreamQuotesInput, 'input').properties ?? {};

/**
 * The quote stream for HTTP clients (server-sent events). It is a stream, not a tool, so it is declared
 * here for REST only; OpenAPI marks it x-rest-only, which the REST/MCP parity check honours. It writes the
 * events itself rather than through @Sse(): with interceptors in place, @Sse() commits its 200 before an
 * async handler finishes, and an unknown symbol could no longer be a 404.
 */
@ApiTags('market-data')
@Controller('market-data')
export class MarketDataStreamController {
  constructor(private readonly router: GatewayRouter) {}

  private marketData(input: GatewayChoice): MarketDataService {
    return this.router.forData(input).get(MarketDataService);
  }

  @Get('stream')
  @ApiOperation({
    operationId: 'stream_quotes',
    summary: 'Stream quotes (server-sent events)',
    description:
      'A text/event-stream of quote updates for the named contracts, e.g. GET /market-data/stream?symbols=AAPL,MSFT. ' +
      'Each "quote" event carries one contract\'s quote as JSON (the get_quote shape, source "stream"); an ' +
      '"error" event says that one contract\'s stream failed for good. The IB subscriptions end when the ' +
      'client disconnects. Unknown symbol: 404; no market data subscription: 403, before the stream starts. ' +
      `At most ${MAX_STREAM_SYMBOLS} contracts per stream. REST only (MCP clients use get_quote).`,
  })
  @ApiExtension('x-rest-only', true)
  @ApiQuery({ name: 'symbols', required: false, schema: queryParameters.symbols ?? { type: 'string' } })
  @ApiQuery({ name: 'conIds', required: false, schema: queryParameters.conIds ?? { type: 'string' } })
  @ApiQuery({
    name: 'marketDataType',
    required: false,
    schema: queryParameters.marketDataType ?? { type: 'string' },
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description:
      'Events "quote" (data: a quote as JSON) and "error" (data: {symbol, conId, code, message}), until the client leaves',
    content: { 'text/event-stream': { schema: toOpenApiSchema(Quote, 'output') } },
  })
  async stream(
    @Input(StreamQuotesInput) input: StreamQuotesInput,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    // Errors up to here (unknown symbol, no subscription) are answered by the exception filter as JSON.
    const feed = await this.marketData(input).openQuoteFeed(input);
    if (request.socket.destroyed) {
      feed.close(); // the client left while the streams opened
      return;
    }
    response.status(200).set({
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    response.flushHeaders();
    let eventId = 0;
    const write = (text: string): void => {
      if (response.writableEnded || response.destroyed) return;
      // A client that stopped reading is dropped rather than buffered for without end.
      if (response.writableLength > MAX_UNREAD_BYTES) response.destroy();
      else response.write(text);
    };
    const subscription = merge(
      ...feed.streams.map(({ contract, lease }) =>
        lease.quotes.pipe(
          auditTime(COALESCE_MS),
          map((quote): StreamEvent => ({ event: 'quote', data: quote })),
          catchError((error: unknown) =>
            of<StreamEvent>({ event: 'error', data: streamError(contract, error) }),
          ),
        ),
      ),
    ).subscribe({
      next: ({ event, data }) =>
        write(`id: ${++eventId}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
      complete: () => response.end(),
    });
    // A comment now and then keeps proxies from closing an idle stream and finds clients that are gone.
    const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
    response.on('close', () => {
      clearInterval(heartbeat);
      subscription.unsubscribe();
      feed.close();
    });
  }
}

function streamError(contract: IbContract, error: unknown): Record<string, unknown> {
  return {
    symbol: contract.symbol ?? '',
    conId: contract.conId,
    code: error instanceof DomainError ? error.code : 'INTERNAL',
    message:
      error instanceof DomainError ? error.message : 'The stream failed; the service log has the details',
  };
}
