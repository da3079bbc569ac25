import {
  formatZoned,
  HistoricalPacing,
  parseBarSize,
  parseDuration,
  parseEndDateTime,
  smallestBarSeconds,
  type PacingRequest,
} from '../../../../src/simulator/market/historical-request';

describe('historical request parsing', () => {
  const now = Date.UTC(2026, 10, 18, 16, 0);

  it('reads end times the ways IB accepts them', () => {
    expect(parseEndDateTime('', now)).toBe(now);
    expect(parseEndDateTime('20261117-15:00:00', now)).toBe(Date.UTC(2026, 10, 17, 15, 0));
    expect(parseEndDateTime('20261117 10:00:00 US/Eastern', now)).toBe(Date.UTC(2026, 10, 17, 15, 0));
    // Summer time: New York is four hours behind UTC.
    expect(parseEndDateTime('20260701 10:00:00 America/New_York', now)).toBe(Date.UTC(2026, 6, 1, 14, 0));
    expect(parseEndDateTime('20261117 10:00:00', now)).toBe(Date.UTC(2026, 10, 17, 10, 0));
    expect(parseEndDateTime('20261117', now)).toBe(Date.UTC(2026, 10, 17));
  });

  it('refuses malformed end times, impossible dates and unknown zones', () => {
    for (const text of [
      '2026-11-17 10:00',
      '20261131 10:00:00',
      '20261117 25:00:00',
      '20261117 10:00:00 Mars/Base',
    ]) {
      expect(parseEndDateTime(text, now)).toBeUndefined();
    }
  });

  it('reads durations and bar sizes', () => {
    expect(parseDuration('3600 S')).toEqual({ count: 3600, unit: 'S' });
    expect(parseDuration('2 W')).toEqual({ count: 2, unit: 'W' });
    expect(parseDuration('0 D')).toBeUndefined();
    expect(parseDuration('1D')).toBeUndefined();
    expect(parseBarSize('1 month')).toMatchObject({ unit: 'month' });
    expect(parseBarSize('1W')).toMatchObject({ unit: 'week' });
    expect(parseBarSize('1 sec')).toBeUndefined();
  });

  it("follows IB's step table for bars under a minute", () => {
    expect(smallestBarSeconds(60)).toBe(1);
    expect(smallestBarSeconds(3600)).toBe(5);
    expect(smallestBarSeconds(14_400)).toBe(10);
    expect(smallestBarSeconds(28_800)).toBe(30);
    expect(smallestBarSeconds(86_400)).toBe(60);
  });

  it('formats instants on a zone wall clock', () => {
    expect(formatZoned(Date.UTC(2026, 10, 17, 14, 30), 'US/Eastern')).toBe('20261117 09:30:00 US/Eastern');
  });
});

describe('historical data pacing', () => {
  const request = (identity: string, scope = 'AAPL|SMART|TRADES', weight = 1): PacingRequest => ({
    identity,
    scope,
    weight,
  });

  it('refuses an identical request for 15 seconds', () => {
    const pacing = new HistoricalPacing();
    expect(pacing.admit(request('a'), 0)).toBe(true);
    expect(pacing.admit(request('a'), 14_999)).toBe(false);
    expect(pacing.admit(request('a'), 15_001)).toBe(true);
  });

  it('refuses the sixth request of one scope within two seconds; BID_ASK counts twice', () => {
    const pacing = new HistoricalPacing();
    for (let i = 0; i < 5; i++) expect(pacing.admit(request(`r${i}`), i * 100)).toBe(true);
    expect(pacing.admit(request('r5'), 500)).toBe(false);
    expect(pacing.admit(request('other scope', 'MSFT|SMART|TRADES'), 500)).toBe(true);
    expect(pacing.admit(request('r6'), 2_050)).toBe(true);

    const bidAsk = new HistoricalPacing();
    const scope = 'AAPL|SMART|BID_ASK';
    expect(bidAsk.admit(request('b0', scope, 2), 0)).toBe(true);
    expect(bidAsk.admit(request('b1', scope, 2), 10)).toBe(true);
    expect(bidAsk.admit(request('b2', scope, 2), 20)).toBe(false);
  });

  it('refuses the 61st request within ten minutes and admits again once the oldest ages out', () => {
    const pacing = new HistoricalPacing();
    for (let i = 0; i < 60; i++) expect(pacing.admit(request(`r${i}`, `scope${i}`), i * 1000)).toBe(true);
    expect(pacing.admit(request('r60', 'scope60'), 60_000)).toBe(false);
    expect(pacing.admit(request('r61', 'scope61'), 600_001)).toBe(true);
  });
});
