import type { FieldReader } from '../protocol/field-reader';
import { Request } from '../protocol/message-ids';
import { requireVersion } from '../protocol/messages';
import { ServerVersion } from '../protocol/versions';
import type { SimulatorContext } from '../simulator-context';

/**
 * Wall Street Horizon calendar requests. The simulated account has no WSH subscription, and IB answers
 * such an account's reqWshMetaData and reqWshEventData with 10276 "News feed is not allowed." (IB's
 * message codes: "The API client is not permissioned for receiving WSH news feed."). Cancels are silent.
 * The requests exist from v161 (WSHE_CALENDAR): below it they (cancels too) are refused with 321. The
 * event request's filters arrived at v171 and its dates at v173.
 */
export const WshCode = { NEWS_FEED_NOT_ALLOWED: 10276 } as const;
export const WshText = { newsFeedNotAllowed: 'News feed is not allowed.' } as const;

export function registerWshHandlers(context: SimulatorContext): void {
  const { server } = context;
  server.on(Request.REQ_WSH_META_DATA, (session, request) => {
    requireWsh(request);
    const reqId = request.int();
    session.sendError(reqId, WshCode.NEWS_FEED_NOT_ALLOWED, WshText.newsFeedNotAllowed);
  });
  server.on(Request.REQ_WSH_EVENT_DATA, (session, request) => {
    requireWsh(request);
    const reqId = request.int();
    request.int(); // conId
    // filter, fillWatchlist, fillPortfolio, fillCompetitors; then startDate, endDate, totalLimit: none
    // matter without a WSH subscription.
    request.since(ServerVersion.WSH_EVENT_DATA_FILTERS, () => request.skip(4));
    request.since(ServerVersion.WSH_EVENT_DATA_FILTERS_DATE, () => request.skip(3));
    session.sendError(reqId, WshCode.NEWS_FEED_NOT_ALLOWED, WshText.newsFeedNotAllowed);
  });
  server.on(Request.CANCEL_WSH_META_DATA, (_session, request) => requireWsh(request));
  server.on(Request.CANCEL_WSH_EVENT_DATA, (_session, request) => requireWsh(request));
}

function requireWsh(request: FieldReader): void {
  requireVersion(request, ServerVersion.WSHE_CALENDAR, 'The Wall Street Horizon calendar');
}
