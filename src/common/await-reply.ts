import type { Observable } from 'rxjs';
import { systemClock, type Clock } from './clock';

/** What one event means for the request waiting on it: its answer, its failure, or nothing (keep waiting). */
export type Reply<R> = { answer: R } | { failure: Error } | undefined;

export interface AwaitReplyOptions<E, R> {
  events: Observable<E>;
  /** Sends the request; called once listening has begun, so no answer can be missed. */
  send?: () => void;
  match: (event: E) => Reply<R>;
  timeoutMs: number;
  /** The answer (or the error to throw) when nothing matched in time. */
  onTimeout: () => R | Error;
  clock?: Clock;
}

/**
 * Waits for IB's answer to one request: subscribes, sends, matches each event, times out, and always
 * cleans up (the subscription and the timer), whichever comes first.
 */
export async function awaitReply<E, R>(options: AwaitReplyOptions<E, R>): Promise<R> {
  const clock = options.clock ?? systemClock;
  return new Promise<R>((resolve, reject) => {
    let finished = false;
    const finish = (outcome: { answer: R } | { failure: Error }): void => {
      if (finished) return;
      finished = true;
      clock.clearTimeout(timer);
      held.subscription?.unsubscribe();
      if ('answer' in outcome) resolve(outcome.answer);
      else reject(outcome.failure);
    };
    const timer = clock.setTimeout(() => {
      const late = options.onTimeout();
      finish(late instanceof Error ? { failure: late } : { answer: late });
    }, options.timeoutMs);
    // Held in an object: an event emitted during subscribe() finishes before the assignment returns.
    const held: { subscription?: { unsubscribe(): void } } = {};
    held.subscription = options.events.subscribe({
      next: (event) => {
        const reply = options.match(event);
        if (reply) finish(reply);
      },
      error: (error: unknown) =>
        finish({ failure: error instanceof Error ? error : new Error(String(error)) }),
    });
    if (finished) held.subscription.unsubscribe();
    try {
      options.send?.();
    } catch (error) {
      finish({ failure: error instanceof Error ? error : new Error(String(error)) });
    }
  });
}

export interface AnswerWithinOptions {
  timeoutMs: number;
  onTimeout: () => Error;
  /** Emits when nobody can answer any more (the session closed). */
  abandoned: Observable<unknown>;
  onAbandoned: () => Error;
}

/** `work`'s outcome, unless the time runs out or the request is abandoned first; cleans up either way. */
export async function answerWithin<T>(work: Promise<T>, options: AnswerWithinOptions): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let abandonment: { unsubscribe(): void } | undefined;
  const giveUp = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(options.onTimeout()), options.timeoutMs);
    abandonment = options.abandoned.subscribe(() => reject(options.onAbandoned()));
  });
  try {
    return await Promise.race([work, giveUp]);
  } finally {
    clearTimeout(timer);
    abandonment?.unsubscribe();
  }
}
