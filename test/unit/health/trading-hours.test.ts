import { TradingHours } from '../../../src/health/trading-hours';

describe('TradingHours (IB contract details hours strings)', () => {
  // IDEALPRO FX as IB lists it: each session opens 17:15 New York time the evening before.
  const fx = TradingHours.parse(
    '20261117:1715-20261118:1700;20261118:1715-20261119:1700;20261119:1715-20261120:1700;20261121:CLOSED;20261122:CLOSED',
    'US/Eastern',
  );

  it('reads sessions in the contract time zone, across midnight', () => {
    expect(fx?.isOpen(Date.parse('2026-11-18T15:00:00Z'))).toBe(true); // Wednesday 10:00 New York
    expect(fx?.isOpen(Date.parse('2026-11-18T22:05:00Z'))).toBe(false); // the daily 17:00-17:15 break
    expect(fx?.isOpen(Date.parse('2026-11-19T03:00:00Z'))).toBe(true); // Wednesday night, next session
    expect(fx?.sessionEnd(Date.parse('2026-11-18T15:00:00Z'))?.toISOString()).toBe(
      '2026-11-18T22:00:00.000Z',
    );
  });

  it('knows a closed weekend and says nothing about days it does not list', () => {
    expect(fx?.isOpen(Date.parse('2026-11-21T12:00:00Z'))).toBe(false); // Saturday
    expect(fx?.nextOpen(Date.parse('2026-11-20T23:00:00Z'))).toBeUndefined(); // Sunday's session is not listed
    expect(fx?.isOpen(Date.parse('2026-12-02T15:00:00Z'))).toBeUndefined();
    expect(fx?.covers(Date.parse('2026-11-16T12:00:00Z'))).toBe(false);
  });

  it('follows daylight saving time (New York: EDT in July, EST in November)', () => {
    const summer = TradingHours.parse('20260715:0930-20260715:1600', 'US/Eastern');
    expect(summer?.isOpen(Date.parse('2026-07-15T13:30:00Z'))).toBe(true);
    expect(summer?.isOpen(Date.parse('2026-07-15T13:29:00Z'))).toBe(false);
    const winter = TradingHours.parse('20261118:0930-20261118:1600', 'US/Eastern');
    expect(winter?.isOpen(Date.parse('2026-11-18T14:29:00Z'))).toBe(false);
    expect(winter?.nextOpen(Date.parse('2026-11-18T12:00:00Z'))?.toISOString()).toBe(
      '2026-11-18T14:30:00.000Z',
    );
  });

  it('reads the pre-2018 form with several ranges per day', () => {
    const old = TradingHours.parse('20090507:0700-1830,1830-2330;20090508:CLOSED', 'America/Chicago');
    expect(old?.isOpen(Date.parse('2009-05-07T20:00:00Z'))).toBe(true); // 15:00 CDT
    expect(old?.isOpen(Date.parse('2009-05-08T15:00:00Z'))).toBe(false);
  });

  it('refuses what it cannot read rather than guessing', () => {
    expect(TradingHours.parse('20261118:0930-20261118:1600', 'Not/AZone')).toBeUndefined();
    expect(TradingHours.parse('tomorrow 9:30', 'US/Eastern')).toBeUndefined();
    expect(TradingHours.parse('', 'US/Eastern')).toBeUndefined();
  });
});
