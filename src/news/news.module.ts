import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { ContractsModule } from '../contracts/contracts.module';
import { NewsRepository } from './news.repository';
import { NewsService } from './news.service';

@Module({
  imports: [ConnectionModule, ContractsModule],
  providers: [NewsRepository, NewsService],
  exports: [NewsService],
})
export class NewsModule {}
