import { Module } from '@nestjs/common';
import { ConnectionService } from './connection.service';
import { IbSession } from './ib-session.repository';

@Module({
  providers: [IbSession, ConnectionService],
  exports: [IbSession, ConnectionService],
})
export class ConnectionModule {}
