import { ApiTags } from '@nestjs/swagger';
import { McpController } from '@rekog/mcp-nest';
import type { z } from 'zod';
import { Input, Operation } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice } from '../gateway/gateway-router';
import { RunScannerInput, ScannerParameters, ScannerParametersInput, ScannerResult } from './scanner.schemas';
import { ScannerService } from './scanner.service';

@ApiTags('scanner')
@McpController('scanner')
export class ScannerController {
  constructor(private readonly router: GatewayRouter) {}

  /** Scans go to the gateway for data unless one is named. */
  private scanner(input: GatewayChoice): ScannerService {
    return this.router.forData(input).get(ScannerService);
  }

  @Operation({
    name: 'get_scanner_parameters',
    summary: 'Get what the market scanner can scan',
    description:
      "IB's scanner parameters: instrument types, locations, scan codes and filters, optionally only those for one instrument type or matching a text. Use them with run_scanner.",
    path: 'parameters',
    input: ScannerParametersInput,
    output: ScannerParameters,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  })
  async parameters(
    @Input(ScannerParametersInput) input: z.infer<typeof ScannerParametersInput>,
  ): Promise<z.infer<typeof ScannerParameters>> {
    return this.scanner(input).scannerParameters(input);
  }

  @Operation({
    name: 'run_scanner',
    summary: 'Run a market scan',
    description:
      'Runs one market scan (e.g. TOP_PERC_GAIN in STK.US.MAJOR with {"priceAbove": 10}) and returns the ranked contracts of its first result set; the scanner subscription is cancelled right after.',
    method: 'post',
    path: 'run',
    input: RunScannerInput,
    output: ScannerResult,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  })
  async run(
    @Input(RunScannerInput) input: z.infer<typeof RunScannerInput>,
  ): Promise<z.infer<typeof ScannerResult>> {
    return this.scanner(input).runScanner(input);
  }
}
