import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { ContractsModule } from '../contracts/contracts.module';
import { AccountLiveState } from './account-live-state';
import { AccountStreamsRepository } from './account-streams.repository';
import { AccountRepository } from './account.repository';
import { AccountService } from './account.service';

@Module({
  imports: [ConnectionModule, ContractsModule],
  providers: [AccountRepository, AccountStreamsRepository, AccountLiveState, AccountService],
  // The order safety policy asks which accounts are managed (live or paper); the event bridge publishes the
  // live state's changes.
  exports: [AccountRepository, AccountLiveState],
})
export class AccountModule {}
