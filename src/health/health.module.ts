import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { ContractsModule } from '../contracts/contracts.module';
import { MarketDataModule } from '../market-data/market-data.module';
import { MarketDataStreams } from '../market-data/market-data-streams';
import { GatewayClock } from './gateway-clock';
import { HealthEventLog } from './health-events';
import { HealthService } from './health.service';
import { ProbeDataRepository } from './probe-data.repository';
import { RecoveryLadder } from './recovery-ladder';
import { CLIENT_STREAMS, StaleDataWatchdog } from './stale-data-watchdog';

/** Liveness/readiness, the stale-data watchdog, the recovery ladder, and the health operations. */
@Module({
  imports: [ConnectionModule, ContractsModule, MarketDataModule],
  providers: [
    { provide: CLIENT_STREAMS, useExisting: MarketDataStreams },
    GatewayClock,
    ProbeDataRepository,
    HealthEventLog,
    StaleDataWatchdog,
    RecoveryLadder,
    HealthService,
  ],
  exports: [HealthEventLog],
})
export class HealthModule {}
