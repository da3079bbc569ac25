import { Schedules, TradingCalendar } from '../../../../src/simulator/market/trading-hours';

const at = (iso: string): number => Date.parse(iso);

describe('TradingCalendar', () => {
  const equities = new TradingCalendar(Schedules.usEquity);
  const fx = new TradingCalendar(Schedules.fx);
  const futures = new TradingCalendar(Schedules.cmeEquityFutures);

  it('follows New York wall-clock time across daylight saving changes', () => {
    // 09:30 ET is 14:30Z in winter and 13:30Z in summer.
    expect(equities.isLiquid(at('2026-03-06T14:30:00Z'))).toBe(true);
    expect(equities.isLiquid(at('2026-03-06T14:29:59Z'))).toBe(false);
    expect(equities.isLiquid(at('2026-03-09T13:30:00Z'))).toBe(true);
    expect(equities.isLiquid(at('2026-03-09T13:29:59Z'))).toBe(false);
    expect(equities.isTrading(at('2026-03-09T08:00:00Z'))).toBe(true); // 04:00 EDT
    expect(equities.isTrading(at('2026-03-07T15:00:00Z'))).toBe(false); // Saturday
  });

  it('closes FX daily from 17:00 to 17:15 and from Friday 17:00 to Sunday 17:15', () => {
    expect(fx.isTrading(at('2026-11-24T22:05:00Z'))).toBe(false); // Tuesday 17:05 ET
    expect(fx.isTrading(at('2026-11-24T22:15:00Z'))).toBe(true);
    expect(fx.isTrading(at('2026-11-27T21:59:59Z'))).toBe(true); // Friday 16:59:59 ET
    expect(fx.isTrading(at('2026-11-28T12:00:00Z'))).toBe(false);
    expect(fx.isTrading(at('2026-11-29T22:14:59Z'))).toBe(false); // Sunday 17:14:59 ET
    expect(fx.isTrading(at('2026-11-29T22:15:00Z'))).toBe(true);
  });

  it('runs ES futures from Sunday 17:00 to Friday 16:00 Chicago time with a daily hour break', () => {
    expect(futures.isTrading(at('2026-11-29T23:00:00Z'))).toBe(true); // Sunday 17:00 CT
    expect(futures.isTrading(at('2026-11-24T22:30:00Z'))).toBe(false); // Tuesday 16:30 CT
    expect(futures.isLiquid(at('2026-11-24T14:30:00Z'))).toBe(true); // 08:30 CT
  });

  it("writes IB's hours format, a session under the day it ends on and CLOSED days", () => {
    const hours = fx.hoursString(at('2026-11-27T15:00:00Z'), 4, false);
    expect(hours).toBe(
      '20261126:1715-20261127:1700;20261128:CLOSED;20261129:CLOSED;20261129:1715-20261130:1700',
    );
    expect(equities.hoursString(at('2026-11-24T15:00:00Z'), 1, true)).toBe('20261124:0930-20261124:1600');
  });

  it('counts trading time only while open, so a price path on it stands still when closed', () => {
    const friday = equities.tradingTime(at('2026-11-28T01:00:00Z'));
    expect(equities.tradingTime(at('2026-11-29T12:00:00Z'))).toBe(friday);
    expect(equities.tradingTime(at('2026-11-30T10:00:00Z')) - friday).toBe(3_600_000); // Monday 04:00-05:00 ET
  });

  it('finds the sessions before and after an instant', () => {
    const before = equities.sessionBefore(at('2026-11-29T12:00:00Z'));
    const after = equities.sessionAfter(at('2026-11-29T12:00:00Z'));
    expect(new Date(before.end).toISOString()).toBe('2026-11-28T01:00:00.000Z'); // Friday 20:00 ET
    expect(new Date(after.start).toISOString()).toBe('2026-11-30T09:00:00.000Z'); // Monday 04:00 ET
  });
});
