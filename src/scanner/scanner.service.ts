import { Inject, Injectable } from '@nestjs/common';
import { Semaphore } from 'async-mutex';
import type { z } from 'zod';
import { CLOCK, type Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { parseScannerParameters } from './scanner-parameters.parser';
import { ScannerRepository } from './scanner.repository';
import type {
  RunScannerInput,
  ScannerParameters,
  ScannerParametersInput,
  ScannerResult,
} from './scanner.schemas';

type Parameters = z.infer<typeof ScannerParameters>;

/** IB allows 10 scanner subscriptions at a time per client; leave room for other users of the session. */
const MAX_CONCURRENT_SCANS = 5;
/** The parameters document changes rarely and is large (megabytes at IB): fetch it once an hour. */
const PARAMETERS_TTL_MS = 60 * 60 * 1000;
/** How many valid choices an "unknown code" message names. */
const CHOICES_IN_MESSAGE = 12;

/** IB's market scanner: what can be scanned, and one-shot scans (subscribe, take the first result, cancel). */
@Injectable()
export class ScannerService {
  private parameters: { expires: number; value: Promise<Parameters> } | undefined;
  private readonly scans = new Semaphore(MAX_CONCURRENT_SCANS);

  constructor(
    private readonly repository: ScannerRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async scannerParameters(input: z.infer<typeof ScannerParametersInput>): Promise<Parameters> {
    const all = await this.allParameters();
    const instrument = input.instrument?.toUpperCase();
    const search = input.search?.toLowerCase();
    const matches = (...texts: string[]): boolean =>
      search === undefined || texts.some((text) => text.toLowerCase().includes(search));
    const forInstrument = (instruments: string[]): boolean =>
      instrument === undefined || instruments.some((entry) => entry.toUpperCase() === instrument);
    const instruments = all.instruments.filter(
      (entry) =>
        (instrument === undefined || entry.type.toUpperCase() === instrument) &&
        matches(entry.type, entry.name),
    );
    // An instrument names its filters by family (PRICE) or by code (priceAbove).
    const allowedFilters =
      instrument === undefined
        ? undefined
        : new Set(instruments.flatMap((entry) => entry.filters.map((f) => f.toUpperCase())));
    return {
      instruments,
      locations: all.locations.filter(
        (entry) => forInstrument(entry.instruments) && matches(entry.locationCode, entry.name),
      ),
      scanCodes: all.scanCodes.filter(
        (entry) => forInstrument(entry.instruments) && matches(entry.scanCode, entry.displayName),
      ),
      filters: all.filters.filter(
        (entry) =>
          (allowedFilters === undefined ||
            allowedFilters.has(entry.code.toUpperCase()) ||
            allowedFilters.has((entry.group ?? '').toUpperCase())) &&
          matches(entry.code, entry.displayName),
      ),
    };
  }

  async runScanner(input: z.infer<typeof RunScannerInput>): Promise<z.infer<typeof ScannerResult>> {
    const instrument = input.instrument.toUpperCase();
    const location = input.location.toUpperCase();
    const scanCode = input.scanCode.toUpperCase();
    await this.checkAgainstParameters(scanCode, instrument, location, Object.keys(input.filters));
    // IB rejects a bad scan it was sent with 162, which the repository reports as INVALID_INPUT.
    const found = await this.scans.runExclusive(async () =>
      this.repository.scan({ scanCode, instrument, location, rows: input.rows, filters: input.filters }),
    );
    const rows = found.sort((a, b) => a.rank - b.rank).slice(0, input.rows);
    return { scanCode, instrument, location, rows };
  }

  private async allParameters(): Promise<Parameters> {
    const now = this.clock.now();
    if (this.parameters && this.parameters.expires > now) return this.parameters.value;
    const value = this.repository.parametersXml().then(parseScannerParameters);
    const entry = { expires: now + PARAMETERS_TTL_MS, value };
    this.parameters = entry;
    value.catch(() => {
      if (this.parameters === entry) this.parameters = undefined;
    });
    return value;
  }

  /**
   * Names the wrong field before IB is asked: IB's own answer to a bad scan is one generic error. When the
   * parameters cannot be had, IB's answer has to do.
   */
  private async checkAgainstParameters(
    scanCode: string,
    instrument: string,
    location: string,
    filters: string[],
  ): Promise<void> {
    let parameters: Parameters;
    try {
      parameters = await this.allParameters();
    } catch {
      return;
    }
    const invalid = (field: string, message: string): DomainError =>
      new DomainError('INVALID_INPUT', `Invalid parameters: [${field}]: ${message}`);
    const choices = (codes: string[]): string =>
      codes.slice(0, CHOICES_IN_MESSAGE).join(', ') + (codes.length > CHOICES_IN_MESSAGE ? ', ...' : '');
    const instruments = parameters.instruments.map((entry) => entry.type.toUpperCase());
    if (instruments.length > 0 && !instruments.includes(instrument)) {
      throw invalid(
        'instrument',
        `${instrument} is not an instrument type IB scans; one of ${choices(instruments)}`,
      );
    }
    const locations = parameters.locations.map((entry) => entry.locationCode.toUpperCase());
    if (locations.length > 0 && !locations.includes(location)) {
      throw invalid('location', `${location} is not a location IB scans; e.g. ${choices(locations)}`);
    }
    const scanType = parameters.scanCodes.find((entry) => entry.scanCode.toUpperCase() === scanCode);
    if (parameters.scanCodes.length > 0 && !scanType) {
      const codes = parameters.scanCodes.map((entry) => entry.scanCode);
      throw invalid('scanCode', `${scanCode} is not a scan code IB offers; e.g. ${choices(codes)}`);
    }
    if (
      scanType &&
      scanType.instruments.length > 0 &&
      !scanType.instruments.some((entry) => entry.toUpperCase() === instrument)
    ) {
      throw invalid(
        'scanCode',
        `${scanCode} does not scan ${instrument}; it scans ${choices(scanType.instruments)}`,
      );
    }
    const codes = new Set(parameters.filters.map((entry) => entry.code.toUpperCase()));
    const unknown = filters.find((code) => codes.size > 0 && !codes.has(code.toUpperCase()));
    if (unknown !== undefined) {
      throw invalid(`filters.${unknown}`, 'not a filter IB offers (see get_scanner_parameters)');
    }
  }
}
