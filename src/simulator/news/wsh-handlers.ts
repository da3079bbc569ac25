import { Request } from '../protocol/message-ids';
import type { SimulatorContext } from '../simulator-context';

/**
 * Wall Street Horizon calendar requests. The simulated account has no WSH subscription, and IB answers
 * such an account's reqWshMetaData and reqWshEventData with 10276 "News feed is not allowed." (IB's
 * message codes: "The API client is not permissioned for receiving WSH news feed."). Cancels are silent.
 */
export const WshCode = { NEWS_FEED_NOT_ALLOWED: 10276 } as const;
export const WshText = { newsFeedNotAllowed: 'News feed is not allowed.' } as const;

export function registerWshHandlers(context: SimulatorContext): void {
  const { server } = context;
  server.on(Request.REQ_WSH_META_DATA, (session, request) => {
    const reqId = request.int();
    session.sendError(reqId, WshCode.NEWS_FEED_NOT_ALLOWED, WshText.newsFeedNotAllowed);
  });
  server.on(Request.REQ_WSH_EVENT_DATA, (session, request) => {
    const reqId = request.int(); // then conId, filter, fill flags, dates, limit: none matter without WSH
    session.sendError(reqId, WshCode.NEWS_FEED_NOT_ALLOWED, WshText.newsFeedNotAllowed);
  });
  server.on(Request.CANCEL_WSH_META_DATA, () => undefined);
  server.on(Request.CANCEL_WSH_EVENT_DATA, () => undefined);
}
