import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ConnectionModule } from '../connection/connection.module';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), ConnectionModule],
  controllers: [HealthController],
})
export class HealthModule {}
