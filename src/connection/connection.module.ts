import { Module } from '@nestjs/common';
import { ConnectionController } from './connection.controller';
import { ConnectionService } from './connection.service';
import { IbApiRepository } from './ib-api.repository';

@Module({
  controllers: [ConnectionController],
  providers: [IbApiRepository, ConnectionService],
  exports: [IbApiRepository, ConnectionService],
})
export class ConnectionModule {}
