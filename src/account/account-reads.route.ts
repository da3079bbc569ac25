import { Injectable } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { LRUCache } from 'lru-cache';
import { parse as parseQueryString } from 'node:querystring';
import type { z } from 'zod';
import type { FastRoute } from '../common/fast-route';
import { OPERATIONS, queryInputParser } from '../common/operation.decorator';
import { GatewayRouter } from '../gateway/gateway-router';
import { AccountController } from './account.controller';
import { AccountInput, AccountValuesInput } from './account.schemas';
import { AccountService } from './account.service';

/**
 * One account read over REST in front of Express and Nest (see FastRoute), as the declared operation does
 * it: its path, input schema and service method. Answered from the held subscriptions, such a read costs
 * what a streamed quote costs. Invalid input and browsers take the declared route.
 */
class AccountReadRoute<S extends z.ZodObject> implements FastRoute {
  readonly path: string;
  private readonly parseInput: (query: Record<string, unknown>) => z.infer<S> | undefined;
  /** Clients ask for the same few query strings again and again: each is validated once. */
  private readonly inputs = new LRUCache<string, { input: z.infer<S> | undefined }>({ max: 1000 });

  constructor(
    readonly operation: string,
    schema: S,
    private readonly router: GatewayRouter,
    private readonly read: (service: AccountService, input: z.infer<S>) => Promise<object>,
  ) {
    const definition = OPERATIONS.find((declared) => declared.name === operation);
    // Fast routes skip the operation guard, which only ever stops the read-only token from writing.
    if (definition?.safety.readOnly !== true)
      throw new Error(`${operation} must be a declared read-only operation`);
    const controllerPath = Reflect.getMetadata(PATH_METADATA, AccountController) as string;
    this.path = `/${controllerPath}/${definition.path}`;
    this.parseInput = queryInputParser(schema);
  }

  accept(queryString: string): (() => Promise<object>) | undefined {
    let parsed = this.inputs.get(queryString);
    if (parsed === undefined) {
      parsed = { input: this.parseInput(parseQueryString(queryString)) };
      this.inputs.set(queryString, parsed);
    }
    const { input } = parsed;
    if (input === undefined) return undefined;
    return async () => this.read((await this.router.forAccount(input)).get(AccountService), input);
  }
}

/** The account reads that live state answers, each a fast route (wired in main.ts beside the quote's). */
@Injectable()
export class AccountReadRoutes {
  readonly routes: readonly FastRoute[];

  constructor(router: GatewayRouter) {
    this.routes = [
      new AccountReadRoute('get_account_summary', AccountInput, router, async (service, input) =>
        service.summary(input.account),
      ),
      new AccountReadRoute('get_positions', AccountInput, router, async (service, input) =>
        service.positions(input.account),
      ),
      new AccountReadRoute('get_pnl', AccountInput, router, async (service, input) =>
        service.pnl(input.account),
      ),
      new AccountReadRoute('get_account_values', AccountValuesInput, router, async (service, input) =>
        service.accountValues(input),
      ),
    ];
  }
}
