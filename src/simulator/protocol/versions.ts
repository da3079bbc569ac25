/**
 * The protocol versions the simulator speaks, as IB Gateway does: it answers the handshake with the highest
 * server version inside the client's offered range, then encodes and parses every message for that version.
 * The names follow IB's MIN_SERVER_VER_* constants: the version at which a field or message arrived.
 */
export const ServerVersion = {
  /** The oldest version negotiated: what clients offering "v100..151" (e.g. the ib-tws-api package) get. */
  OLDEST: 151,
  STOCK_TYPE: 152,
  ENCODE_MSG_ASCII7: 153,
  SEND_ALL_FAMILY_CODES: 154,
  NO_DEFAULT_OPEN_CLOSE: 155,
  PRICE_BASED_VOLATILITY: 156,
  REPLACE_FA_END: 157,
  DURATION: 158,
  MARKET_DATA_IN_SHARES: 159,
  POST_TO_ATS: 160,
  WSHE_CALENDAR: 161,
  AUTO_CANCEL_PARENT: 162,
  FRACTIONAL_SIZE_SUPPORT: 163,
  SIZE_RULES: 164,
  HISTORICAL_SCHEDULE: 165,
  ADVANCED_ORDER_REJECT: 166,
  USER_INFO: 167,
  CRYPTO_AGGREGATED_TRADES: 168,
  MANUAL_ORDER_TIME: 169,
  PEGBEST_PEGMID_OFFSETS: 170,
  WSH_EVENT_DATA_FILTERS: 171,
  IPO_PRICES: 172,
  WSH_EVENT_DATA_FILTERS_DATE: 173,
  INSTRUMENT_TIMEZONE: 174,
  HMDS_MARKET_DATA_IN_SHARES: 175,
  BOND_ISSUERID: 176,
  FA_PROFILE_DESUPPORT: 177,
  PENDING_PRICE_REVISION: 178,
  FUND_DATA_FIELDS: 179,
  MANUAL_ORDER_TIME_EXERCISE_OPTIONS: 180,
  OPEN_ORDER_AD_STRATEGY: 181,
  LAST_TRADE_DATE: 182,
  CUSTOMER_ACCOUNT: 183,
  PROFESSIONAL_CUSTOMER: 184,
  BOND_ACCRUED_INTEREST: 185,
  INELIGIBILITY_REASONS: 186,
  RFQ_FIELDS: 187,
  BOND_TRADING_HOURS: 188,
  INCLUDE_OVERNIGHT: 189,
  UNDO_RFQ_FIELDS: 190,
  PERM_ID_AS_LONG: 191,
  CME_TAGGING_FIELDS: 192,
  CME_TAGGING_FIELDS_IN_OPEN_ORDER: 193,
  /** The newest version the simulator speaks. */
  NEWEST: 193,
} as const;

export interface VersionRange {
  min: number;
  max: number;
}

/** Parses "v100..193" (or "v193") into the client's supported range. */
export function parseVersionRange(text: string): VersionRange | undefined {
  const match = /^v(\d+)(?:\.\.(\d+))?$/.exec(text.trim());
  if (!match?.[1]) return undefined;
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : Number(match[2]);
  return min <= max ? { min, max } : undefined;
}

/**
 * The version to answer the handshake with: the highest the client offers that the simulator speaks.
 * Undefined when the ranges do not meet, which a real gateway answers by closing the connection.
 */
export function negotiateVersion(offered: VersionRange): number | undefined {
  const version = Math.min(offered.max, ServerVersion.NEWEST);
  return version >= Math.max(offered.min, ServerVersion.OLDEST) ? version : undefined;
}
