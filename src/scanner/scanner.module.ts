import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { ScannerController } from './scanner.controller';
import { ScannerRepository } from './scanner.repository';
import { ScannerService } from './scanner.service';

@Module({
  imports: [ConnectionModule],
  controllers: [ScannerController],
  providers: [ScannerRepository, ScannerService],
})
export class ScannerModule {}
