import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { ScannerController } from './scanner.controller';
import { ScannerService } from './scanner.service';

@Module({
  imports: [ConnectionModule],
  controllers: [ScannerController],
  providers: [ScannerService],
})
export class ScannerModule {}
