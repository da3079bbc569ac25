import { Reply } from './message-ids';
import { before, since, type WireValue } from './framing';
import { InvalidRequest, type FieldReader } from './field-reader';
import { ServerVersion } from './versions';

/** Id used by messages that answer no particular request (farm status, connectivity, pacing). */
export const NO_REQUEST_ID = -1;

/** ERR_MSG: version 2, id, code, text, and from v166 the advancedOrderRejectJson field. */
export function errorMessage(
  id: number,
  code: number,
  text: string,
  advancedOrderRejectJson = '',
): WireValue[] {
  return [
    Reply.ERR_MSG,
    2,
    id,
    code,
    text,
    since(ServerVersion.ADVANCED_ORDER_REJECT, advancedOrderRejectJson),
  ];
}

/**
 * A size (quantity, volume) as IB writes it: a decimal from v163 (FRACTIONAL_SIZE_SUPPORT), a whole number
 * below it, where clients read sizes as integers.
 */
export function decimalSize(size: number): WireValue {
  if (!Number.isFinite(size) || Number.isInteger(size)) return size;
  return since(
    ServerVersion.OLDEST,
    before(ServerVersion.FRACTIONAL_SIZE_SUPPORT, Math.round(size)),
    since(ServerVersion.FRACTIONAL_SIZE_SUPPORT, size),
  );
}

/**
 * A request that a client at the session's version cannot send (its encoder refuses it below `version`):
 * if one arrives anyway, IB refuses it for that request's id (321), as it does any request it cannot accept.
 */
export function requireVersion(request: FieldReader, version: number, feature: string): void {
  if (request.serverVersion < version) {
    throw new InvalidRequest(
      `${feature} needs server version ${version}; this session negotiated ${request.serverVersion}.`,
    );
  }
}

export function managedAccountsMessage(accounts: readonly string[]): WireValue[] {
  return [Reply.MANAGED_ACCTS, 1, accounts.join(',')];
}

export function nextValidIdMessage(orderId: number): WireValue[] {
  return [Reply.NEXT_VALID_ID, 1, orderId];
}

/** USER_INFO (no version; the message exists from v167): the white-branding id, empty for an account opened directly with IB. */
export function userInfoMessage(reqId: number, whiteBrandingId: string): WireValue[] {
  return [Reply.USER_INFO, reqId, whiteBrandingId];
}

export function currentTimeMessage(epochSeconds: number): WireValue[] {
  return [Reply.CURRENT_TIME, 1, epochSeconds];
}

/** IB's texts for the codes the simulator emits outside any domain. */
export const SystemMessage = {
  tooManyMessages: (max: number, received: number) =>
    `Max rate of messages per second has been exceeded:max=${max} rec=${received} (1)`,
  unknownMessage: (id: string) =>
    `Server error when reading an API client request. Unknown message id ${id}.`,
  unreadableRequest: (detail: string) => `Server error when reading an API client request. ${detail}`,
  invalidRequest: (detail: string) => `Server error when validating an API client request. ${detail}`,
  clientIdInUse: 'Unable to connect as the client id is already in use. Retry with a unique client id.',
  connectivityLost: 'Connectivity between IB and Trader Workstation has been lost.',
  connectivityRestoredDataLost:
    'Connectivity between IB and Trader Workstation has been restored - data lost.',
  connectivityRestoredDataMaintained:
    'Connectivity between IB and Trader Workstation has been restored - data maintained.',
  marketFarmBroken: (farm: string) => `Market data farm connection is broken:${farm}`,
  marketFarmOk: (farm: string) => `Market data farm connection is OK:${farm}`,
  hmdsFarmOk: (farm: string) => `HMDS data farm connection is OK:${farm}`,
  secDefFarmOk: (farm: string) => `Sec-def data farm connection is OK:${farm}`,
} as const;

/** IB message codes used across the simulator. */
export const Code = {
  TOO_MANY_MESSAGES: 100,
  UNREADABLE_REQUEST: 320,
  INVALID_REQUEST: 321,
  CLIENT_ID_IN_USE: 326,
  CONNECTIVITY_LOST: 1100,
  CONNECTIVITY_RESTORED_DATA_LOST: 1101,
  CONNECTIVITY_RESTORED_DATA_MAINTAINED: 1102,
  MARKET_FARM_BROKEN: 2103,
  MARKET_FARM_OK: 2104,
  HMDS_FARM_OK: 2106,
  SEC_DEF_FARM_OK: 2158,
} as const;
