import { XMLParser } from 'fast-xml-parser';
import type { z } from 'zod';
import type { ScannerParameters } from './scanner.schemas';

type Parameters = z.infer<typeof ScannerParameters>;
type XmlNode = Record<string, unknown>;

const ALWAYS_LISTS = new Set(['Instrument', 'Location', 'ScanType', 'AbstractField']);
const FILTER_LIST_PATH = 'ScanParameterResponse.FilterList';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Codes such as "1" or "true" must stay text.
  parseTagValue: false,
  trimValues: true,
  // A list with one entry must still be a list; FilterList's children are RangeFilter, SimpleFilter, ...
  isArray: (name, jPath) =>
    ALWAYS_LISTS.has(name) || (typeof jPath === 'string' && jPath === `${FILTER_LIST_PATH}.${name}`),
});

/** IB's ScanParameterResponse XML (reqScannerParameters) as instruments, locations, scan codes, filters. */
export function parseScannerParameters(xml: string): Parameters {
  const document = parser.parse(xml) as XmlNode;
  const root = node(document.ScanParameterResponse);
  return {
    instruments: nodes(node(root.InstrumentList).Instrument).map((instrument) => ({
      type: text(instrument.type),
      name: text(instrument.name),
      filters: list(instrument.filters),
    })),
    locations: flattenLocations(nodes(node(root.LocationTree).Location)),
    scanCodes: nodes(node(root.ScanTypeList).ScanType).map((scanType) => ({
      scanCode: text(scanType.scanCode),
      displayName: text(scanType.displayName),
      instruments: list(scanType.instruments),
    })),
    filters: Object.entries(node(root.FilterList))
      .filter(([key]) => !key.startsWith('@_'))
      .flatMap(([, groups]) => nodes(groups))
      .flatMap((group) =>
        nodes(group.AbstractField).map((field) => ({
          code: text(field.code),
          displayName: text(field.displayName),
          valueType: valueType(text(field['@_type'])),
          ...(text(group.id) ? { group: text(group.id) } : {}),
          ...(text(group.category) ? { category: text(group.category) } : {}),
        })),
      )
      .filter((field) => field.code !== ''),
  };
}

/** Locations nest (US Stocks > NASDAQ > ...); callers need every code, parents first. */
function flattenLocations(locations: XmlNode[]): Parameters['locations'] {
  return locations.flatMap((location) => [
    {
      locationCode: text(location.locationCode),
      name: text(location.name),
      instruments: list(location.instruments),
    },
    ...flattenLocations(nodes(node(location.LocationTree).Location)),
  ]);
}

/** "scanner.filter.DoubleField" → "double". */
function valueType(type: string): string {
  return (type.split('.').pop() ?? '').replace(/Field$/, '').toLowerCase() || 'unknown';
}

function node(value: unknown): XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as XmlNode) : {};
}

function nodes(value: unknown): XmlNode[] {
  return Array.isArray(value) ? value.map(node) : value === undefined ? [] : [node(value)];
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

function list(value: unknown): string[] {
  return text(value)
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}
