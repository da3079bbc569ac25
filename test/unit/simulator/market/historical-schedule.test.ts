import { Decoder } from '@stoqey/ib/dist/core/io/decoder';
import { SimulatorClock } from '../../../../src/simulator/control/simulator-clock';
import {
  historicalSchedule,
  historicalScheduleMessage,
} from '../../../../src/simulator/market/historical-schedule';
import type { Instrument } from '../../../../src/simulator/market/instrument';
import { Market } from '../../../../src/simulator/market/market';
import { fieldsAt, formatField } from '../../../../src/simulator/protocol/framing';
import { ServerVersion } from '../../../../src/simulator/protocol/versions';

/** A Tuesday, 11:00 New York time. */
const TUESDAY = Date.parse('2026-11-24T16:00:00Z');
const DAY = 86_400_000;

describe('historical schedule (whatToShow=SCHEDULE)', () => {
  const market = new Market({ seed: 42, clock: new SimulatorClock() });
  const find = (secType: string, symbol: string): Instrument => {
    const found = market
      .lookupInstruments()
      .find((instrument) => instrument.secType === secType && instrument.symbol === symbol);
    if (!found) throw new Error(`no ${secType} ${symbol}`);
    return found;
  };

  it('lists the regular sessions of a stock over a week, one per trading day', () => {
    const aapl = find('STK', 'AAPL');
    const sessions = historicalSchedule(market, aapl, TUESDAY - 7 * DAY, TUESDAY, true);
    // Tuesday to Tuesday: Tue..Fri, Mon, and today's session in progress.
    expect(sessions.map((session) => session.refDate)).toEqual([
      '20261117',
      '20261118',
      '20261119',
      '20261120',
      '20261123',
      '20261124',
    ]);
    for (const session of sessions) expect(session.end - session.start).toBe(6.5 * 3_600_000);
  });

  it('dates an FX session that starts the evening before by the day it ends', () => {
    const eur = find('CASH', 'EUR');
    const sessions = historicalSchedule(market, eur, TUESDAY - 3 * DAY, TUESDAY, false);
    expect(sessions.length).toBeGreaterThan(0);
    for (const session of sessions) {
      const endDate = new Date(session.end - 1).toISOString().slice(0, 10).replace(/-/g, '');
      expect(session.refDate).toBe(endDate);
    }
  });

  it.each([ServerVersion.HISTORICAL_SCHEDULE, ServerVersion.NEWEST])('decodes at v%i', (version) => {
    const aapl = find('STK', 'AAPL');
    // From Friday 11:00 New York time: Friday's session overlaps the window.
    const sessions = historicalSchedule(market, aapl, TUESDAY - 4 * DAY, TUESDAY, true);
    const events: unknown[][] = [];
    const errors: string[] = [];
    const decoder = new Decoder({
      serverVersion: version,
      emitEvent: (_name: string, ...args: unknown[]) => events.push(args),
      emitInfo: () => undefined,
      emitError: (message: string) => errors.push(message),
    });
    decoder.enqueueMessage(fieldsAt(version, historicalScheduleMessage(5, aapl, sessions)).map(formatField));
    decoder.process();
    expect(errors).toEqual([]);
    const [reqId, start, end, zone, decoded] = events[0] ?? [];
    expect([reqId, zone]).toEqual([5, aapl.timeZoneId]);
    expect(start).toBe('20261120-09:30:00');
    expect(end).toBe('20261124-16:00:00');
    expect(decoded).toEqual([
      { startDateTime: '20261120-09:30:00', endDateTime: '20261120-16:00:00', refDate: '20261120' },
      { startDateTime: '20261123-09:30:00', endDateTime: '20261123-16:00:00', refDate: '20261123' },
      { startDateTime: '20261124-09:30:00', endDateTime: '20261124-16:00:00', refDate: '20261124' },
    ]);
  });
});
