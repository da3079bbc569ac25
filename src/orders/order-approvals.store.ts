import type { Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { newApprovalId } from './order-approvals.signing';

/** The operations that wait for a human's yes under --confirm-orders: every one that can move money. */
export const CONFIRMABLE_OPERATIONS = [
  'place_order',
  'modify_order',
  'transmit_order',
  'cancel_order',
  'cancel_all_orders',
] as const;
export type ConfirmableOperation = (typeof CONFIRMABLE_OPERATIONS)[number];

/** mcp: asked inside the tool result (2026-07-28 elicitation); ticket: approved over REST by a person. */
export type ApprovalChannel = 'mcp' | 'ticket';

/**
 * - pending: asked, no answer yet
 * - approved: the human said yes; the operation runs when the caller comes back with it
 * - executing: running now (a second caller waits for the same run)
 * - done: ran; coming back with it answers the same outcome, never a second order
 * - declined, expired, void (its parameters were changed): refused for good
 */
export type ApprovalState = 'pending' | 'approved' | 'executing' | 'done' | 'declined' | 'expired' | 'void';

/** What the human is shown: one line to read, and the facts it is made of. */
export interface ApprovalSummary {
  text: string;
  account?: string | undefined;
  symbol?: string | undefined;
  details: Record<string, unknown>;
}

export interface Approval {
  id: string;
  operation: ConfirmableOperation;
  /** operationHash of what was asked: the only call this approval lets through. */
  hash: string;
  channel: ApprovalChannel;
  gateway: string;
  summary: ApprovalSummary;
  askedAt: number;
  /** Pending: the answer's deadline. Approved: the deadline of the call that uses it. */
  expiresAt: number;
  state: ApprovalState;
  decidedAt?: number;
  result?: unknown;
  execution?: Promise<unknown>;
}

export interface ApprovalLimits {
  /** Questions waiting at once; beyond, a new one is refused (each is a human's attention). */
  pending: number;
  /** Finished approvals kept to answer a repeated call. */
  finished: number;
  /** How long a finished approval is kept. */
  keepFinishedMs: number;
}

const DEFAULT_LIMITS: ApprovalLimits = { pending: 200, finished: 1000, keepFinishedMs: 24 * 3_600_000 };
const OPEN: readonly ApprovalState[] = ['pending', 'approved'];
const FINISHED: readonly ApprovalState[] = ['done', 'declined', 'expired', 'void'];

/**
 * The approvals of one gateway, in memory only: a restart forgets them (and the request-state key with
 * them), so an approval never outlives the process that asked. Time comes from the clock, so expiry is
 * tested without waiting.
 */
export class ApprovalStore {
  private readonly approvals = new Map<string, Approval>();

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly limits: ApprovalLimits = DEFAULT_LIMITS,
  ) {}

  open(fields: Pick<Approval, 'operation' | 'hash' | 'channel' | 'gateway' | 'summary'>): Approval {
    this.prune();
    const waiting = [...this.approvals.values()].filter((approval) => approval.state === 'pending').length;
    if (waiting >= this.limits.pending) {
      throw new DomainError(
        'CONFLICT',
        `${waiting} approvals are already waiting for an answer; decline or let them expire before asking again. Nothing was placed.`,
      );
    }
    const now = this.clock.now();
    const approval: Approval = {
      ...fields,
      id: newApprovalId(),
      askedAt: now,
      expiresAt: now + this.timeoutMs,
      state: 'pending',
    };
    this.approvals.set(approval.id, approval);
    return approval;
  }

  get(id: string): Approval | undefined {
    return this.approvals.get(id);
  }

  /** Every approval kept, newest first. */
  list(): Approval[] {
    return [...this.approvals.values()].sort((a, b) => b.askedAt - a.askedAt);
  }

  /** Pending and approved approvals past their deadline become expired; answers those that just did. */
  expireDue(): Approval[] {
    const now = this.clock.now();
    const due = [...this.approvals.values()].filter(
      (approval) => OPEN.includes(approval.state) && now > approval.expiresAt,
    );
    for (const approval of due) approval.state = 'expired';
    return due;
  }

  /**
   * The human's answer to a pending approval. A yes gives the caller a fresh deadline to come back with
   * it. False when the approval is no longer pending (answered, expired, void).
   */
  decide(approval: Approval, decision: 'approved' | 'declined'): boolean {
    this.expireDue();
    if (approval.state !== 'pending') return false;
    const now = this.clock.now();
    approval.state = decision;
    approval.decidedAt = now;
    if (decision === 'approved') approval.expiresAt = now + this.timeoutMs;
    return true;
  }

  /** A call came with other parameters: the approval can no longer be used at all. */
  voidApproval(approval: Approval): void {
    if (approval.state === 'pending' || approval.state === 'approved') approval.state = 'void';
  }

  /**
   * Runs an approved operation once. A caller arriving while it runs gets the same outcome; after it ran,
   * `replay` answers (or the result kept). A failure leaves the approval usable until its deadline: every
   * confirmable operation is safe to run again (a placement through its idempotency key).
   */
  async runOnce<T>(approval: Approval, run: () => Promise<T>, replay?: () => Promise<T>): Promise<T> {
    if (approval.state === 'done') return replay ? replay() : (approval.result as T);
    if (approval.state === 'executing' && approval.execution) return approval.execution as Promise<T>;
    if (approval.state !== 'approved') {
      throw new DomainError('CONFLICT', `Approval ${approval.id} is ${approval.state}: nothing was placed`);
    }
    approval.state = 'executing';
    const execution = run();
    approval.execution = execution;
    try {
      const result = await execution;
      approval.state = 'done';
      approval.result = result;
      return result;
    } catch (error) {
      approval.state = 'approved';
      throw error;
    } finally {
      delete approval.execution;
    }
  }

  /** Forgets finished approvals past their keeping time, and the oldest beyond the count kept. */
  private prune(): void {
    const now = this.clock.now();
    const finished = this.list().filter((approval) => FINISHED.includes(approval.state));
    finished.forEach((approval, index) => {
      if (index >= this.limits.finished || now - approval.askedAt > this.limits.keepFinishedMs) {
        this.approvals.delete(approval.id);
      }
    });
  }
}
