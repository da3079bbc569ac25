import { Injectable } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { LRUCache } from 'lru-cache';
import { parse as parseQueryString } from 'node:querystring';
import type { FastRoute } from '../common/fast-route';
import { OPERATIONS, queryInputParser } from '../common/operation.decorator';
import { MarketDataController } from './market-data.controller';
import { GetQuoteInput, type Quote } from './market-data.schemas';
import { GatewayRouter } from '../gateway/gateway-router';
import { MarketDataService } from './market-data.service';

const OPERATION = 'get_quote';

/**
 * get_quote over REST in front of Express and Nest (see FastRoute): the declared operation's path, input
 * schema and service method; a contract this service streams is answered from memory at once. Invalid input
 * and browsers take the declared route.
 */
@Injectable()
export class QuoteRoute implements FastRoute {
  readonly operation = OPERATION;
  readonly path: string;
  private readonly parseInput = queryInputParser(GetQuoteInput);
  /** Clients ask for the same few query strings again and again: each is validated once. */
  private readonly inputs = new LRUCache<string, { input: GetQuoteInput | undefined }>({ max: 1000 });

  constructor(private readonly router: GatewayRouter) {
    const definition = OPERATIONS.find((operation) => operation.name === OPERATION);
    // Fast routes skip the operation guard, which only ever stops the read-only token from writing.
    if (definition?.safety.readOnly !== true)
      throw new Error(`${OPERATION} must be a declared read-only operation`);
    const controllerPath = Reflect.getMetadata(PATH_METADATA, MarketDataController) as string;
    this.path = `/${controllerPath}/${definition.path}`;
  }

  accept(queryString: string): (() => Quote | Promise<Quote>) | undefined {
    let parsed = this.inputs.get(queryString);
    if (parsed === undefined) {
      parsed = { input: this.parseInput(parseQueryString(queryString)) };
      this.inputs.set(queryString, parsed);
    }
    const { input } = parsed;
    if (input === undefined) return undefined;
    // An unknown gateway name takes the declared route, which answers why.
    const unit = this.router.tryForData(input);
    if (unit === undefined) return undefined;
    const marketData = unit.get(MarketDataService);
    return (): Quote | Promise<Quote> => marketData.streamedQuote(input) ?? marketData.getQuote(input);
  }
}
