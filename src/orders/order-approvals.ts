import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import { AccountRepository } from '../account/account.repository';
import { CLOCK, type Clock, type ClockTimer } from '../common/clock';
import { DomainError } from '../common/domain-error';
import type { AppConfig } from '../config/config.schema';
import { APP_CONFIG } from '../config/config.tokens';
import {
  changedRefusal,
  NOTHING_SENT,
  orderIdsOf,
  pendingAnswer,
  question,
  questionText,
  restartedRefusal,
  STATE_REFUSALS,
  stateRefusal,
  viewOf,
  type McpToolAnswer,
} from './order-approvals.answers';
import type { Asker } from './order-approvals.asker';
import type { ApprovalView } from './order-approvals.schemas';
import { ConfirmationSigner, operationHash } from './order-approvals.signing';
import {
  ApprovalStore,
  type Approval,
  type ApprovalSummary,
  type ConfirmableOperation,
} from './order-approvals.store';
import {
  cancelAllSummary,
  existingOrderSummary,
  placeSummary,
  previewInputOf,
} from './order-approvals.summary';
import { OrderJournalRepository, type JournalEntry } from './order-journal.repository';
import { PreviewOrderInput, type PlaceOrderInput } from './orders.schemas';
import { OrdersService } from './orders.service';
import type { z } from 'zod';

const DEFAULT_TIMEOUT_SECONDS = 300;

/** A step of a confirmation as the journal and the 'approvals' topic tell it. */
type ApprovalStep =
  | 'asked'
  | 'shown'
  | 'approved'
  | 'declined'
  | 'expired'
  | 'placed'
  | 'executed'
  | 'failed'
  | 'void'
  | 'refused';

/** A step of an approval as it happens (pushed to /events' 'approvals' topic). */
export interface ApprovalChange {
  step: ApprovalStep;
  symbol: string | undefined;
  account: string | undefined;
  approval: ApprovalView;
}

/** What an order operation passes on once confirmed: its parameters, and for a placement the key to use. */
export type ConfirmedRun<P, R> = (parameters: P, approvalKey: string | undefined) => Promise<R>;

/**
 * --confirm-orders: place, modify, transmit and cancel wait for a person's yes before anything reaches IB.
 * MCP clients of the 2026-07-28 revision are asked inside the tool result (input-required, form
 * elicitation) with a request state signed over the operation's hash; REST callers and 2025 MCP clients
 * get an approval ticket bound to the same hash, approved over REST with the full token. Every step goes
 * to the order journal and the 'approvals' topic. Nothing survives a restart, by design.
 */
@Injectable()
export class OrderApprovals implements OnModuleDestroy {
  readonly enabled: boolean;
  private readonly signer = new ConfirmationSigner();
  private readonly store: ApprovalStore;
  private readonly gateway: string;
  private readonly timers = new Set<ClockTimer>();
  private readonly shown = new Set<string>();
  private readonly stepped = new Subject<ApprovalChange>();
  /** Every step of every approval, as it happens. */
  readonly changes: Observable<ApprovalChange> = this.stepped.asObservable();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly journal: OrderJournalRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly orders: OrdersService,
    private readonly accounts: AccountRepository,
  ) {
    this.enabled = config.orders.confirmOrders === true;
    this.gateway = config.gateway.name;
    const timeoutSeconds = config.orders.approvalTimeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    this.store = new ApprovalStore(clock, timeoutSeconds * 1000);
  }

  onModuleDestroy(): void {
    for (const timer of this.timers) this.clock.clearTimeout(timer);
    this.timers.clear();
    this.stepped.complete();
  }

  /**
   * The gate in front of an order operation: runs it at once when confirmation is off; otherwise asks
   * (MCP input-required, or a ticket), and runs it only on a yes bound to these exact parameters.
   */
  async confirm<I extends { approvalId?: string | undefined }, R>(
    asker: Asker,
    operation: ConfirmableOperation,
    input: I,
    run: ConfirmedRun<Omit<I, 'approvalId'>, R>,
  ): Promise<R | McpToolAnswer> {
    const { approvalId, ...parameters } = input;
    if (!this.enabled) return run(parameters, undefined);
    this.sweep();
    const hash = operationHash(operation, this.gateway, parameters);
    if (approvalId !== undefined) {
      return this.withTicket(asker, operation, approvalId, hash, parameters, run);
    }
    if (asker.face === 'mcp-modern') return this.withElicitation(asker, operation, hash, parameters, run);
    const summary = await this.describe(operation, parameters);
    const approval = this.open(operation, hash, 'ticket', summary);
    await this.step(approval, 'asked', { input: parameters });
    return pendingAnswer(asker, approval);
  }

  /** The approvals kept (waiting and recently finished), newest first; a listing counts as shown. */
  async list(): Promise<ApprovalView[]> {
    this.sweep();
    const approvals = this.store.list();
    for (const approval of approvals) {
      if (approval.channel !== 'ticket' || approval.state !== 'pending' || this.shown.has(approval.id))
        continue;
      this.shown.add(approval.id);
      await this.step(approval, 'shown', { to: 'rest' });
    }
    return approvals.map((approval) => viewOf(approval));
  }

  /**
   * A person's answer to a ticket (REST, full token). Undefined when this gateway never issued it; a
   * ticket of an earlier run is refused as such.
   */
  async answer(approvalId: string, decision: 'approved' | 'declined'): Promise<ApprovalView | undefined> {
    this.sweep();
    const approval = this.store.get(approvalId);
    if (!approval) {
      if (await this.issuedEarlier(approvalId)) throw restartedRefusal(approvalId);
      return undefined;
    }
    if (approval.channel !== 'ticket') {
      throw new DomainError(
        'CONFLICT',
        `Approval ${approvalId} was asked in the MCP client that placed the call and is answered there`,
      );
    }
    const again = approval.state === decision || (decision === 'approved' && approval.state === 'done');
    if (!again && !this.store.decide(approval, decision)) {
      throw new DomainError(
        'CONFLICT',
        `Approval ${approvalId} is ${approval.state}; it can no longer be ${decision}`,
        { approvalId, state: approval.state },
      );
    }
    if (!again) {
      if (decision === 'approved') this.schedule(approval);
      await this.step(approval, decision, { by: 'rest' });
    }
    return viewOf(approval);
  }

  // ---- The two ways of asking ----

  private async withElicitation<P extends object, R>(
    asker: Asker,
    operation: ConfirmableOperation,
    hash: string,
    parameters: P,
    run: ConfirmedRun<P, R>,
  ): Promise<R | McpToolAnswer> {
    if (asker.requestState === undefined) {
      if (!asker.canElicit) {
        // Nothing to show: the SDK answers this with the missing-capability error (-32021, HTTP 400).
        await this.journal.append({
          type: 'approval',
          operation,
          step: 'refused',
          orderHash: hash,
          reason: 'the MCP client did not declare the elicitation capability',
        });
        return question(`Confirm ${operation}?`, undefined);
      }
      const summary = await this.describe(operation, parameters);
      const approval = this.open(operation, hash, 'mcp', summary);
      await this.step(approval, 'asked', { input: parameters });
      const state = this.signer.sign({ id: approval.id, operation, hash, expiresAt: approval.expiresAt });
      await this.step(approval, 'shown', { to: 'mcp' });
      return question(questionText(approval), state);
    }
    const check = this.signer.verify(asker.requestState, this.clock.now());
    if (!check.ok) {
      await this.journal.append({ type: 'approval', operation, step: 'refused', reason: check.reason });
      throw new DomainError(
        'CONFLICT',
        `${operation} refused: ${STATE_REFUSALS[check.reason]}. ${NOTHING_SENT}`,
        {
          reason: check.reason,
        },
      );
    }
    const approval = this.store.get(check.claim.id);
    if (!approval || approval.channel !== 'mcp') {
      throw new DomainError(
        'CONFLICT',
        `${operation} refused: this confirmation is no longer kept. ${NOTHING_SENT}`,
      );
    }
    if (check.claim.operation !== operation || check.claim.hash !== hash || approval.hash !== hash) {
      throw await this.voided(approval, operation);
    }
    if (approval.state === 'pending') {
      const { answer } = asker;
      if (answer.kind === 'missing') return question(questionText(approval), asker.requestState);
      const yes = answer.kind === 'elicit' && answer.action === 'accept' && answer.content?.confirm === true;
      this.store.decide(approval, yes ? 'approved' : 'declined');
      const said = answer.kind === 'elicit' ? answer.action : answer.kind;
      await this.step(approval, yes ? 'approved' : 'declined', { by: 'mcp', answer: said });
    }
    return this.execute(asker, approval, parameters, run);
  }

  private async withTicket<P extends object, R>(
    asker: Asker,
    operation: ConfirmableOperation,
    approvalId: string,
    hash: string,
    parameters: P,
    run: ConfirmedRun<P, R>,
  ): Promise<R | McpToolAnswer> {
    const approval = this.store.get(approvalId);
    if (!approval || approval.channel !== 'ticket') {
      if (await this.issuedEarlier(approvalId)) {
        await this.journal.append({
          type: 'approval',
          operation,
          step: 'refused',
          approvalId,
          reason: 'restarted',
        });
        throw restartedRefusal(approvalId);
      }
      throw new DomainError('NOT_FOUND', `No approval ticket ${approvalId} was issued. ${NOTHING_SENT}`);
    }
    if (approval.operation !== operation || approval.hash !== hash)
      throw await this.voided(approval, operation);
    return this.execute(asker, approval, parameters, run);
  }

  /** Runs an approved operation once; any other state is answered as it stands, nothing sent. */
  private async execute<P, R>(
    asker: Asker,
    approval: Approval,
    parameters: P,
    run: ConfirmedRun<P, R>,
  ): Promise<R | McpToolAnswer> {
    if (approval.state === 'pending') return pendingAnswer(asker, approval);
    if (approval.state === 'declined' || approval.state === 'expired' || approval.state === 'void') {
      throw stateRefusal(approval);
    }
    // A placement goes with an idempotency key (the caller's, or one of the approval): once, whatever fails.
    const key = approval.operation === 'place_order' ? `approval:${approval.id}` : undefined;
    const once = async () => {
      try {
        const result = await run(parameters, key);
        const step = approval.operation === 'place_order' ? 'placed' : 'executed';
        await this.step(approval, step, { orderIds: orderIdsOf(result) });
        return result;
      } catch (error) {
        const code = error instanceof DomainError ? error.code : 'INTERNAL';
        await this.step(approval, 'failed', { code });
        throw error;
      }
    };
    const replay = key === undefined ? undefined : async () => run(parameters, key);
    return this.store.runOnce(approval, once, replay);
  }

  // ---- Steps, answers, summaries ----

  private open(
    operation: ConfirmableOperation,
    hash: string,
    channel: Approval['channel'],
    summary: ApprovalSummary,
  ): Approval {
    const approval = this.store.open({ operation, hash, channel, gateway: this.gateway, summary });
    this.schedule(approval);
    return approval;
  }

  /** The exact operation, with IB's what-if for a new order (the same one preview_order runs). */
  private async describe(operation: ConfirmableOperation, parameters: object): Promise<ApprovalSummary> {
    if (operation === 'place_order') {
      const placement = parameters as z.infer<typeof PlaceOrderInput>;
      const { bracket: _bracket, transmit: _transmit, idempotencyKey: _key, ...order } = placement;
      // Without an account the order goes to the first managed one (as the safety checks assume too).
      const fallback =
        placement.account === undefined ? (await this.accounts.managedAccounts())[0] : undefined;
      const preview = await this.orders.preview(order);
      if (!preview.safety.allowed) {
        // place_order would refuse it anyway: no one is asked to approve what cannot be placed.
        const reason = preview.safety.refusal ?? 'refused by the safety settings';
        await this.journal.append({
          type: 'approval',
          operation,
          step: 'refused',
          reason,
          input: parameters,
        });
        throw new DomainError(
          'FORBIDDEN',
          `${operation} refused: ${reason}. No one was asked. ${NOTHING_SENT}`,
        );
      }
      return placeSummary(placement, preview, fallback);
    }
    if (operation === 'cancel_all_orders') return cancelAllSummary((await this.orders.openOrders()).orders);
    const {
      orderId,
      gateway: _gateway,
      roundToTick: _round,
      ...changes
    } = parameters as {
      orderId: number;
      gateway?: string;
      roundToTick?: boolean;
    };
    const { order } = await this.orders.status({ orderId });
    if (operation === 'cancel_order') return existingOrderSummary(operation, order);
    const changed = operation === 'modify_order' ? changes : {};
    // IB's what-if of the order as it would stand; a question without it beats no question.
    const resulting = PreviewOrderInput.safeParse(previewInputOf(order, changed));
    const preview = resulting.success
      ? await this.orders.preview(resulting.data).catch(() => undefined)
      : undefined;
    return existingOrderSummary(operation, order, changed, preview);
  }

  private async voided(approval: Approval, operation: ConfirmableOperation): Promise<DomainError> {
    const wasUsable = approval.state === 'pending' || approval.state === 'approved';
    this.store.voidApproval(approval);
    if (wasUsable)
      await this.step(approval, 'void', { reason: `a ${operation} call came with other parameters` });
    return changedRefusal(approval, operation);
  }

  /** Whether the journal (which survives restarts) tells of this approval. */
  private async issuedEarlier(approvalId: string): Promise<boolean> {
    for await (const entry of this.journal.entries()) {
      if (entry.type === 'approval' && entry['approvalId'] === approvalId) return true;
    }
    return false;
  }

  private async step(
    approval: Approval,
    step: ApprovalStep,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    await this.journal.append(this.entryOf(approval, step, extra));
    this.publish(approval, step);
  }

  private entryOf(
    approval: Approval,
    step: ApprovalStep,
    extra: Record<string, unknown>,
  ): Omit<JournalEntry, 'at'> {
    return {
      type: 'approval',
      operation: approval.operation,
      step,
      approvalId: approval.id,
      channel: approval.channel,
      orderHash: approval.hash,
      expiresAt: new Date(approval.expiresAt).toISOString(),
      ...(step === 'asked' ? { summary: approval.summary.text } : {}),
      ...extra,
    };
  }

  private publish(approval: Approval, step: ApprovalStep): void {
    this.stepped.next({
      step,
      symbol: approval.summary.symbol,
      account: approval.summary.account,
      approval: viewOf(approval),
    });
  }

  /** Expired approvals are journaled and announced when their deadline passes, asked about or not. */
  private sweep(): void {
    for (const approval of this.store.expireDue()) {
      this.journal.record(this.entryOf(approval, 'expired', {}));
      this.publish(approval, 'expired');
    }
  }

  private schedule(approval: Approval): void {
    const timer = this.clock
      .setTimeout(
        () => {
          this.timers.delete(timer);
          this.sweep();
        },
        approval.expiresAt - this.clock.now() + 1,
      )
      .unref();
    this.timers.add(timer);
  }
}
