import { Module } from '@nestjs/common';
import { AccountModule } from '../account/account.module';
import { ConnectionModule } from '../connection/connection.module';
import { ContractsModule } from '../contracts/contracts.module';
import { IdempotencyKeyRepository } from './idempotency-key.repository';
import { OrderJournalRepository } from './order-journal.repository';
import { OrderReconciler } from './order-reconciler';
import { TickSizePolicy } from './tick-size';
import { OrderExposures } from './order-exposure';
import { StagedOrders } from './staged-orders';
import { OrderSafetyPolicy } from './order-safety.policy';
import { OrderTracker } from './order-tracker';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';
import { CompletedOrdersService } from './completed-orders.service';
import { OrderApprovals } from './order-approvals';

@Module({
  imports: [ConnectionModule, ContractsModule, AccountModule],
  providers: [
    OrdersRepository,
    OrderJournalRepository,
    IdempotencyKeyRepository,
    OrderSafetyPolicy,
    TickSizePolicy,
    OrderExposures,
    StagedOrders,
    OrderTracker,
    OrderReconciler,
    OrdersService,
    CompletedOrdersService,
    OrderApprovals,
  ],
  exports: [OrdersService, OrderTracker, OrderApprovals],
})
export class OrdersModule {}
