import { DateTime } from 'luxon';

/**
 * IB's time text, "20260102 14:30:00 US/Eastern" (or "GMT", or "UTC"); without a zone it is the gateway's local
 * time (`defaultZone`). Epoch ms, or undefined when unreadable.
 */
export function parseIbTime(text: string, defaultZone: string): number | undefined {
  const match = /^(\d{8})[\s-]+(\d{2}:\d{2}:\d{2})(?:\s+(\S+))?$/.exec(text.trim());
  if (!match) return undefined;
  const zone = match[3] ?? defaultZone;
  const parsed = DateTime.fromFormat(`${match[1]} ${match[2]}`, 'yyyyMMdd HH:mm:ss', {
    zone: zone === 'GMT' ? 'UTC' : zone,
  });
  return parsed.isValid ? parsed.toMillis() : undefined;
}
