import { parseScannerParameters } from '../../../src/scanner/scanner-parameters.parser';

/** A cut-down ScanParameterResponse in the shape IB Gateway sends (nested locations, filter families). */
const IB_STYLE_XML = `<?xml version="1.0" encoding="UTF-8"?>
<ScanParameterResponse>
  <InstrumentList varName="fullInstrumentList">
    <Instrument>
      <name>US Stocks</name>
      <type>STK</type>
      <filters>PRICE,VOLUME,MKTCAP</filters>
      <group>STK.GLOBAL</group>
      <shortName>US</shortName>
    </Instrument>
    <Instrument>
      <name>US Futures</name>
      <type>FUT.US</type>
      <filters>PRICE</filters>
    </Instrument>
  </InstrumentList>
  <LocationTree varName="locationTree">
    <Location>
      <name>US Stocks</name>
      <instruments>STK</instruments>
      <locationCode>STK.US</locationCode>
      <LocationTree>
        <Location>
          <name>Listed/NASDAQ</name>
          <instruments>STK</instruments>
          <locationCode>STK.US.MAJOR</locationCode>
          <LocationTree>
            <Location>
              <name>NASDAQ</name>
              <instruments>STK</instruments>
              <locationCode>STK.NASDAQ</locationCode>
            </Location>
          </LocationTree>
        </Location>
      </LocationTree>
    </Location>
    <Location>
      <name>US Futures</name>
      <instruments>FUT.US</instruments>
      <locationCode>FUT.US</locationCode>
    </Location>
  </LocationTree>
  <ScanTypeList varName="scanTypeList">
    <ScanType>
      <displayName>Top % Gainers</displayName>
      <scanCode>TOP_PERC_GAIN</scanCode>
      <instruments>STK,FUT.US</instruments>
    </ScanType>
  </ScanTypeList>
  <FilterList varName="filterList">
    <RangeFilter>
      <id>PRICE</id>
      <category>Price</category>
      <AbstractField type="scanner.filter.DoubleField">
        <code>priceAbove</code>
        <displayName>Price Above</displayName>
      </AbstractField>
      <AbstractField type="scanner.filter.DoubleField">
        <code>priceBelow</code>
        <displayName>Price Below</displayName>
      </AbstractField>
    </RangeFilter>
    <SimpleFilter>
      <id>VOLUME</id>
      <AbstractField type="scanner.filter.IntField">
        <code>volumeAbove</code>
        <displayName>Volume Above</displayName>
      </AbstractField>
    </SimpleFilter>
    <RangeFilter>
      <id>MKTCAP</id>
      <AbstractField type="scanner.filter.DoubleField">
        <code>marketCapAbove1e6</code>
        <displayName>Market Cap Above</displayName>
      </AbstractField>
    </RangeFilter>
  </FilterList>
</ScanParameterResponse>`;

describe('scanner parameters parser', () => {
  const parsed = parseScannerParameters(IB_STYLE_XML);

  it('reads the instrument types with their filter families', () => {
    expect(parsed.instruments).toEqual([
      { type: 'STK', name: 'US Stocks', filters: ['PRICE', 'VOLUME', 'MKTCAP'] },
      { type: 'FUT.US', name: 'US Futures', filters: ['PRICE'] },
    ]);
  });

  it('flattens nested locations, parents first', () => {
    expect(parsed.locations.map((location) => location.locationCode)).toEqual([
      'STK.US',
      'STK.US.MAJOR',
      'STK.NASDAQ',
      'FUT.US',
    ]);
    expect(parsed.locations[3]?.instruments).toEqual(['FUT.US']);
  });

  it('keeps a single scan type as a list, with its instruments', () => {
    expect(parsed.scanCodes).toEqual([
      { scanCode: 'TOP_PERC_GAIN', displayName: 'Top % Gainers', instruments: ['STK', 'FUT.US'] },
    ]);
  });

  it('lists every field of every filter family, of every kind of filter, with its value type', () => {
    expect(parsed.filters).toEqual([
      {
        code: 'priceAbove',
        displayName: 'Price Above',
        valueType: 'double',
        group: 'PRICE',
        category: 'Price',
      },
      {
        code: 'priceBelow',
        displayName: 'Price Below',
        valueType: 'double',
        group: 'PRICE',
        category: 'Price',
      },
      { code: 'marketCapAbove1e6', displayName: 'Market Cap Above', valueType: 'double', group: 'MKTCAP' },
      { code: 'volumeAbove', displayName: 'Volume Above', valueType: 'int', group: 'VOLUME' },
    ]);
  });

  it('answers an empty document with empty lists instead of failing', () => {
    expect(parseScannerParameters('<ScanParameterResponse/>')).toEqual({
      instruments: [],
      locations: [],
      scanCodes: [],
      filters: [],
    });
  });
});
