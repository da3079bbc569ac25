import { Module } from '@nestjs/common';
import { ConnectionController } from './connection.controller';
import { ConnectionService } from './connection.service';
import { IbSession } from './ib-session.repository';

@Module({
  controllers: [ConnectionController],
  providers: [IbSession, ConnectionService],
  exports: [IbSession, ConnectionService],
})
export class ConnectionModule {}
