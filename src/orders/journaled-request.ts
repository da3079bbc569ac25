import { randomUUID } from 'node:crypto';
import { DomainError } from '../common/domain-error';
import type { JournalEntry, OrderJournalRepository, OrderOperationName } from './order-journal.repository';

/** One order request on its way through the journal. */
export interface RequestContext {
  requestId: string;
  operation: OrderOperationName;
  /** Set once something reached the broker: failures after that are outcomes, not refusals. */
  sent: boolean;
  orderIds: number[];
}

/**
 * Journals the request, runs it, and journals how it ended (a refusal when nothing reached the broker),
 * with every broker response recorded meanwhile on disk before the caller gets the answer.
 */
export async function journaled<T>(
  journal: OrderJournalRepository,
  operation: OrderOperationName,
  input: object,
  run: (request: RequestContext) => Promise<T>,
): Promise<T> {
  const request: RequestContext = { requestId: randomUUID(), operation, sent: false, orderIds: [] };
  const orderId = (input as { orderId?: unknown }).orderId;
  await journal.append({
    type: 'request',
    operation,
    requestId: request.requestId,
    ...(typeof orderId === 'number' ? { orderId } : {}),
    input,
  });
  try {
    const result = await run(request);
    await journal.settled();
    await journal.append({
      type: 'outcome',
      operation,
      requestId: request.requestId,
      ok: true,
      orderIds: request.orderIds,
      ...((result as { replayed?: unknown }).replayed === true ? { replayed: true } : {}),
    });
    return result;
  } catch (error) {
    const domain = error instanceof DomainError ? error : undefined;
    await journal.settled().catch(() => undefined);
    await journal.append({
      type: request.sent ? 'outcome' : 'refusal',
      operation,
      requestId: request.requestId,
      ok: false,
      orderIds: request.orderIds,
      code: domain?.code ?? 'INTERNAL',
      message: domain?.message ?? 'unexpected error (see the service log)',
    });
    throw error;
  }
}

/**
 * Journals what is about to go to the broker (durably, before it goes): the request's order ids and
 * `details`. From then on the request's failures are outcomes, not refusals.
 */
export async function journalSent(
  journal: OrderJournalRepository,
  request: RequestContext,
  details: Partial<JournalEntry>,
): Promise<void> {
  await journal.append({
    type: 'sent',
    operation: request.operation,
    requestId: request.requestId,
    orderIds: request.orderIds,
    ...details,
  });
  request.sent = true;
}
