import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { ContractsModule } from '../contracts/contracts.module';
import { AccountRepository } from './account.repository';
import { AccountService } from './account.service';

@Module({
  imports: [ConnectionModule, ContractsModule],
  providers: [AccountRepository, AccountService],
  // The order safety policy asks which accounts are managed (live or paper).
  exports: [AccountRepository],
})
export class AccountModule {}
