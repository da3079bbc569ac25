import { gatewayArgument } from '../common/gateway-argument';
import { z } from 'zod';

const code = (what: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.]+$/, `must be ${what} as get_scanner_parameters lists it`);

export const ScannerParametersInput = z.strictObject({
  instrument: code('an instrument type (e.g. STK)')
    .optional()
    .describe('Only what applies to this instrument type, e.g. STK; default everything'),
  search: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .optional()
    .describe('Only entries whose code or name contains this text (case-insensitive)'),
  ...gatewayArgument,
});

export const ScannerParameters = z.object({
  instruments: z
    .array(
      z.object({
        type: z.string().describe('Instrument type to pass as run_scanner.instrument'),
        name: z.string(),
        filters: z.array(z.string()).describe('Filter codes that apply to this instrument type'),
      }),
    )
    .describe('Instrument types that can be scanned'),
  locations: z
    .array(
      z.object({
        locationCode: z.string().describe('Location to pass as run_scanner.location'),
        name: z.string(),
        instruments: z.array(z.string()).describe('Instrument types scanned in this location'),
      }),
    )
    .describe('Markets that can be scanned'),
  scanCodes: z
    .array(
      z.object({
        scanCode: z.string().describe('Scan to pass as run_scanner.scanCode'),
        displayName: z.string(),
        instruments: z.array(z.string()),
      }),
    )
    .describe('What a scan ranks by'),
  filters: z
    .array(
      z.object({
        code: z.string().describe('Filter code to use as a key of run_scanner.filters'),
        displayName: z.string(),
        valueType: z.string().describe('Kind of value the filter takes: double, int, string, boolean, ...'),
        group: z.string().optional().describe('The filter family it belongs to, e.g. PRICE'),
        category: z.string().optional(),
      }),
    )
    .describe('Filters a scan can apply'),
});

export const MAX_SCANNER_ROWS = 50;

export const RunScannerInput = z.strictObject({
  scanCode: code('a scan code (e.g. TOP_PERC_GAIN)').describe(
    'What to rank by, e.g. TOP_PERC_GAIN, MOST_ACTIVE, HOT_BY_VOLUME (see get_scanner_parameters)',
  ),
  instrument: code('an instrument type').default('STK').describe('Instrument type to scan; default STK'),
  location: code('a location code')
    .default('STK.US.MAJOR')
    .describe('Market to scan, e.g. STK.US.MAJOR or STK.NASDAQ; default STK.US.MAJOR'),
  filters: z
    .record(code('a filter code'), z.union([z.number(), z.string().trim().min(1).max(64), z.boolean()]))
    .default({})
    .describe(
      'Filter code → value, e.g. {"priceAbove": 10, "volumeAbove": 1000000} (see get_scanner_parameters)',
    ),
  rows: z
    .number()
    .int()
    .min(1)
    .max(MAX_SCANNER_ROWS)
    .default(10)
    .describe(`How many ranked rows to return (1-${MAX_SCANNER_ROWS}); default 10`),
  ...gatewayArgument,
});

export const ScannerResult = z.object({
  scanCode: z.string(),
  instrument: z.string(),
  location: z.string(),
  rows: z.array(
    z.object({
      rank: z.number().int().describe('1 for the best match'),
      conId: z.number().int(),
      symbol: z.string(),
      secType: z.string(),
      exchange: z.string(),
      currency: z.string(),
      localSymbol: z.string().optional(),
      tradingClass: z.string().optional(),
      marketName: z.string().optional(),
      distance: z.string().optional(),
      benchmark: z.string().optional(),
      projection: z.string().optional(),
    }),
  ),
});
