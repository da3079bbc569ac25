import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { ContractsModule } from '../contracts/contracts.module';
import { MarketDataStreams } from './market-data-streams';
import { MarketDataRepository } from './market-data.repository';
import { MarketDataService } from './market-data.service';
import { OptionAnalyticsRepository } from './option-analytics.repository';
import { OptionAnalyticsService } from './option-analytics.service';

@Module({
  imports: [ConnectionModule, ContractsModule],
  providers: [
    MarketDataRepository,
    MarketDataStreams,
    MarketDataService,
    OptionAnalyticsRepository,
    OptionAnalyticsService,
  ],
  exports: [MarketDataStreams],
})
export class MarketDataModule {}
