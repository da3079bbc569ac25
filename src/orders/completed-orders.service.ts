import { Inject, Injectable } from '@nestjs/common';
import type { z } from 'zod';
import { parseIbTime } from '../common/ib-time';
import type { AppConfig } from '../config/config.schema';
import { APP_CONFIG } from '../config/config.tokens';
import type { CompletedOrder, CompletedOrders, CompletedOrdersInput } from './completed-orders.schemas';
import { ContractsService } from '../contracts/contracts.service';
import { describedLegs } from './combo-legs';
import { OrdersRepository } from './orders.repository';

/**
 * The orders IB lists as completed (filled, cancelled, rejected: reqCompletedOrders, every API client's and
 * TWS's own), filtered by account and completion time.
 */
@Injectable()
export class CompletedOrdersService {
  constructor(
    private readonly repository: OrdersRepository,
    private readonly contracts: ContractsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async list(input: z.infer<typeof CompletedOrdersInput>): Promise<z.infer<typeof CompletedOrders>> {
    const since = input.since === undefined ? undefined : Date.parse(input.since);
    const until = input.until === undefined ? undefined : Date.parse(input.until);
    const zone = this.config.gateway.timeZone ?? 'UTC';
    const matching: Array<z.infer<typeof CompletedOrder> & { at: number | undefined }> = [];
    for (const report of await this.repository.completedOrders()) {
      const at = report.completedTime === undefined ? undefined : parseIbTime(report.completedTime, zone);
      if (input.account !== undefined && report.account?.toUpperCase() !== input.account.toUpperCase())
        continue;
      // A time window cannot keep an order whose completion time IB did not say.
      if ((since !== undefined || until !== undefined) && at === undefined) continue;
      if (since !== undefined && at !== undefined && at < since) continue;
      if (until !== undefined && at !== undefined && at >= until) continue;
      matching.push({
        at,
        permId: orNull(report.permId),
        // IB sends 0 or -1 for the ids of completed orders it does not attribute.
        orderId: report.orderId !== undefined && report.orderId > 0 ? report.orderId : null,
        clientId: report.clientId !== undefined && report.clientId >= 0 ? report.clientId : null,
        account: orNull(report.account || undefined),
        contract: report.contract,
        ...(report.legs ? { legs: await describedLegs(this.contracts, report.legs) } : {}),
        side: orNull(report.side),
        orderType: orNull(report.orderType),
        quantity: orNull(report.quantity),
        filled: orNull(report.filled),
        limitPrice: orNull(report.limitPrice),
        auxPrice: orNull(report.auxPrice),
        tif: orNull(report.tif || undefined),
        status: report.status,
        completedStatus: orNull(report.completedStatus || undefined),
        completedAt: at === undefined ? null : new Date(at).toISOString(),
        idempotencyKey: orNull(report.orderRef || undefined),
      });
    }
    matching.sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
    const orders = matching.slice(-input.limit).map(({ at: _at, ...order }) => order);
    return { orders, total: matching.length };
  }
}

function orNull<T>(value: T | undefined): T | null {
  return value === undefined ? null : value;
}
