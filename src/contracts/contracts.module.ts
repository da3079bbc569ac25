import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { ContractsRepository } from './contracts.repository';
import { ContractsService } from './contracts.service';

@Module({
  imports: [ConnectionModule],
  providers: [ContractsRepository, ContractsService],
  exports: [ContractsService],
})
export class ContractsModule {}
