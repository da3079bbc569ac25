import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { ScannerRepository } from './scanner.repository';
import { ScannerService } from './scanner.service';

@Module({
  imports: [ConnectionModule],
  providers: [ScannerRepository, ScannerService],
})
export class ScannerModule {}
