import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { ContractsModule } from '../contracts/contracts.module';
import { MarketDataStreams } from './market-data-streams';
import { MarketDataStreamController } from './market-data-stream.controller';
import { MarketDataController } from './market-data.controller';
import { MarketDataRepository } from './market-data.repository';
import { MarketDataService } from './market-data.service';
import { QuoteRoute } from './quote.route';

@Module({
  imports: [ConnectionModule, ContractsModule],
  controllers: [MarketDataController, MarketDataStreamController],
  providers: [MarketDataRepository, MarketDataStreams, MarketDataService, QuoteRoute],
  exports: [MarketDataStreams, QuoteRoute],
})
export class MarketDataModule {}
