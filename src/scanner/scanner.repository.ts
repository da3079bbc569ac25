import { Injectable } from '@nestjs/common';
import { ScanCode, type ScannerSubscription, type TagValue } from '@stoqey/ib';
import { firstValueFrom } from 'rxjs';
import type { z } from 'zod';
import { IbSession } from '../connection/ib-session.repository';
import type { ScannerResult } from './scanner.schemas';

/** One scan, in the API's words (codes upper-case, as IB spells them). */
export interface ScanRequest {
  scanCode: string;
  instrument: string;
  location: string;
  rows: number;
  /** Filter code → value, e.g. priceAbove → 10. */
  filters: Record<string, string | number | boolean>;
}

/** One ranked row of a scan; rank 1 is the best match. */
export type ScanRow = z.infer<typeof ScannerResult>['rows'][number];

/**
 * IB's market scanner: the parameters document (reqScannerParameters) and one-shot scans (subscribe, take
 * the first result set, cancel).
 */
@Injectable()
export class ScannerRepository {
  constructor(private readonly session: IbSession) {}

  /** IB's scanner parameters: an XML document (megabytes at IB). */
  async parametersXml(): Promise<string> {
    return this.session.ibRequest('scanner parameters', async (ib) => ib.getScannerParameters());
  }

  /** The first result set of a scan, in IB's order; IB's rejection (162) is INVALID_INPUT with IB's reason. */
  async scan(request: ScanRequest): Promise<ScanRow[]> {
    // IB's scan codes, instruments and locations are open-ended text; @stoqey/ib types them as enums.
    const subscription = {
      scanCode: scanCodeKey(request.scanCode),
      instrument: request.instrument,
      locationCode: request.location,
      numberOfRows: request.rows,
    } as unknown as ScannerSubscription;
    const filterOptions: TagValue[] = Object.entries(request.filters).map(([tag, value]) => ({
      tag,
      value: String(value),
    }));
    // Unsubscribing after the first result set cancels the scanner subscription at IB.
    const update = await this.session.ibRequest(
      `scanner ${request.scanCode}`,
      async (ib) => firstValueFrom(ib.getMarketScanner(subscription, undefined, filterOptions)),
      { request: 'scanner', subject: request.scanCode },
    );
    return [...update.all.values()].map((item) => {
      const { contract } = item.contract;
      return {
        // IB ranks from 0.
        rank: item.rank + 1,
        conId: contract.conId ?? 0,
        symbol: contract.symbol ?? '',
        secType: contract.secType ?? '',
        exchange: contract.exchange ?? '',
        currency: contract.currency ?? '',
        ...(contract.localSymbol ? { localSymbol: contract.localSymbol } : {}),
        ...(contract.tradingClass ? { tradingClass: contract.tradingClass } : {}),
        ...(item.contract.marketName ? { marketName: item.contract.marketName } : {}),
        ...(item.distance ? { distance: item.distance } : {}),
        ...(item.benchmark ? { benchmark: item.benchmark } : {}),
        ...(item.projection ? { projection: item.projection } : {}),
      };
    });
  }
}

/** Reverse entries added for scan codes @stoqey/ib's ScanCode enum does not list; negative, so never its own. */
const extraScanCodes = new Map<string, number>();

/**
 * @stoqey/ib sends `ScanCode[subscription.scanCode]`, i.e. the name of a numeric enum member, so a scan code
 * must be passed as the number that maps back to it. IB has more scan codes than the enum lists; those get
 * a reverse entry of their own (a negative number, which no enum member uses).
 */
function scanCodeKey(code: string): ScanCode {
  const reverse = ScanCode as unknown as Record<string | number, string | number>;
  const member = reverse[code];
  if (typeof member === 'number' && reverse[member] === code) return member;
  let key = extraScanCodes.get(code);
  if (key === undefined) {
    key = -1 - extraScanCodes.size;
    extraScanCodes.set(code, key);
    reverse[key] = code;
  }
  return key;
}
