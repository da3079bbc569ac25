import { DomainError } from '../../../src/common/domain-error';
import {
  canonicalJson,
  ConfirmationSigner,
  operationHash,
} from '../../../src/orders/order-approvals.signing';
import { ApprovalStore, type Approval } from '../../../src/orders/order-approvals.store';
import { FakeClock } from '../../support/fake-clock';

const ORDER = { symbol: 'AAPL', side: 'BUY', quantity: 10, orderType: 'LMT', limitPrice: 150.25, tif: 'DAY' };
const TIMEOUT_MS = 300_000;

function storeAt(clock: FakeClock, pending = 5): ApprovalStore {
  return new ApprovalStore(clock, TIMEOUT_MS, { pending, finished: 3, keepFinishedMs: 3_600_000 });
}

function openIn(store: ApprovalStore, operation: Approval['operation'] = 'place_order'): Approval {
  return store.open({
    operation,
    hash: operationHash(operation, 'default', ORDER),
    channel: 'ticket',
    gateway: 'default',
    summary: { text: 'Place order: BUY 10 AAPL', details: {} },
  });
}

describe('the order hash a yes is bound to', () => {
  it('is the same for the same parameters in any key order, and differs for any change', () => {
    const reordered = Object.fromEntries(Object.entries(ORDER).reverse());
    expect(canonicalJson(reordered)).toBe(canonicalJson(ORDER));
    const hash = operationHash('place_order', 'default', ORDER);
    expect(operationHash('place_order', 'default', reordered)).toBe(hash);
    expect(operationHash('place_order', 'default', { ...ORDER, quantity: 11 })).not.toBe(hash);
    expect(operationHash('place_order', 'default', { ...ORDER, limitPrice: 150.26 })).not.toBe(hash);
    expect(operationHash('place_order', 'default', { ...ORDER, account: 'DU2' })).not.toBe(hash);
    expect(operationHash('place_order', 'live', ORDER)).not.toBe(hash);
    expect(operationHash('modify_order', 'default', ORDER)).not.toBe(hash);
    // An undefined member is no member (the validated input leaves optional fields out or undefined).
    expect(operationHash('place_order', 'default', { ...ORDER, stopPrice: undefined })).toBe(hash);
  });
});

describe('the signed request state of an MCP confirmation', () => {
  const clock = new FakeClock();
  const claim = () => ({
    id: 'apv-1',
    operation: 'place_order',
    hash: operationHash('place_order', 'default', ORDER),
    expiresAt: clock.now() + TIMEOUT_MS,
  });

  it('verifies what it signed, until the deadline and not a millisecond after', async () => {
    const signer = new ConfirmationSigner();
    const state = signer.sign(claim());
    const checked = signer.verify(state, clock.now());
    expect(checked).toEqual({ ok: true, claim: { ...claim(), run: signer.run } });
    const deadline = clock.now() + TIMEOUT_MS;
    await clock.advance(TIMEOUT_MS);
    expect(signer.verify(state, clock.now()).ok).toBe(true);
    expect(signer.verify(state, deadline + 1)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses an altered payload (another hash, a later deadline) and an altered signature', () => {
    const signer = new ConfirmationSigner();
    const [payload = '', signature = ''] = signer.sign(claim()).split('.');
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const reencode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const otherHash = reencode({
      ...decoded,
      hash: operationHash('place_order', 'default', { ...ORDER, quantity: 99 }),
    });
    const later = reencode({ ...decoded, expiresAt: Number(decoded.expiresAt) + 1 });
    expect(signer.verify(`${otherHash}.${signature}`, clock.now())).toEqual({ ok: false, reason: 'forged' });
    expect(signer.verify(`${later}.${signature}`, clock.now())).toEqual({ ok: false, reason: 'forged' });
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;
    expect(signer.verify(`${payload}.${flipped}`, clock.now())).toEqual({ ok: false, reason: 'forged' });
    expect(signer.verify(`${payload}.${signature}.x`, clock.now())).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(signer.verify('not-a-state', clock.now())).toEqual({ ok: false, reason: 'malformed' });
  });

  it('tells a state of an earlier run (a restart: another key) from a forged one', () => {
    const before = new ConfirmationSigner();
    const after = new ConfirmationSigner();
    expect(after.run).not.toBe(before.run);
    expect(after.verify(before.sign(claim()), clock.now())).toEqual({ ok: false, reason: 'restarted' });
    // Claiming the new run does not help: the signature is still the old key's.
    const [payload = '', signature = ''] = before.sign(claim()).split('.');
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const claimed = Buffer.from(JSON.stringify({ ...decoded, run: after.run })).toString('base64url');
    expect(after.verify(`${claimed}.${signature}`, clock.now())).toEqual({ ok: false, reason: 'forged' });
  });
});

describe('the approval store', () => {
  it('keeps a ticket pending until its deadline, then expires it once', async () => {
    const clock = new FakeClock();
    const store = storeAt(clock);
    const approval = openIn(store);
    expect(approval).toMatchObject({ state: 'pending', expiresAt: clock.now() + TIMEOUT_MS });
    expect(approval.id).toMatch(/^apv-[A-Za-z0-9_-]{22}$/);
    await clock.advance(TIMEOUT_MS);
    expect(store.expireDue()).toEqual([]);
    await clock.advance(1);
    expect(store.expireDue()).toEqual([approval]);
    expect(store.expireDue()).toEqual([]);
    expect(approval.state).toBe('expired');
    expect(store.decide(approval, 'approved')).toBe(false);
  });

  it('gives an approved ticket a fresh deadline for the call, and then expires it too', async () => {
    const clock = new FakeClock();
    const store = storeAt(clock);
    const approval = openIn(store);
    await clock.advance(TIMEOUT_MS - 1000);
    expect(store.decide(approval, 'approved')).toBe(true);
    expect(approval.expiresAt).toBe(clock.now() + TIMEOUT_MS);
    await clock.advance(TIMEOUT_MS + 1);
    expect(store.expireDue()).toEqual([approval]);
    await expect(store.runOnce(approval, async () => Promise.resolve('placed'))).rejects.toThrow(/expired/);
  });

  it('takes only the first answer: a declined ticket stays declined', () => {
    const store = storeAt(new FakeClock());
    const approval = openIn(store);
    expect(store.decide(approval, 'declined')).toBe(true);
    expect(store.decide(approval, 'approved')).toBe(false);
    expect(approval.state).toBe('declined');
  });

  it('voids a pending or approved ticket, not a used one', async () => {
    const store = storeAt(new FakeClock());
    const pending = openIn(store);
    store.voidApproval(pending);
    expect(pending.state).toBe('void');
    const used = openIn(store);
    store.decide(used, 'approved');
    await store.runOnce(used, async () => Promise.resolve(1));
    store.voidApproval(used);
    expect(used.state).toBe('done');
  });

  it('runs an approved operation once however many callers come, and answers the rest with its outcome', async () => {
    const store = storeAt(new FakeClock());
    const approval = openIn(store);
    expect(store.decide(approval, 'approved')).toBe(true);
    let runs = 0;
    let finish: (value: string) => void = () => undefined;
    const run = async () => {
      runs++;
      return new Promise<string>((resolve) => (finish = resolve));
    };
    const first = store.runOnce(approval, run);
    const concurrent = store.runOnce(approval, run);
    finish('order 7');
    expect(await Promise.all([first, concurrent])).toEqual(['order 7', 'order 7']);
    expect(await store.runOnce(approval, run)).toBe('order 7');
    expect(await store.runOnce(approval, run, async () => Promise.resolve('replayed 7'))).toBe('replayed 7');
    expect(runs).toBe(1);
  });

  it('leaves a failed run approved (safe to run again) and never runs a pending or declined one', async () => {
    const store = storeAt(new FakeClock());
    const pending = openIn(store);
    const never = jest.fn(async () => Promise.resolve('placed'));
    await expect(store.runOnce(pending, never)).rejects.toThrow(DomainError);
    store.decide(pending, 'declined');
    await expect(store.runOnce(pending, never)).rejects.toThrow(/declined/);
    expect(never).not.toHaveBeenCalled();

    const approval = openIn(store);
    store.decide(approval, 'approved');
    await expect(
      store.runOnce(approval, async () => Promise.reject(new Error('IB timed out'))),
    ).rejects.toThrow('IB timed out');
    expect(approval.state).toBe('approved');
    expect(await store.runOnce(approval, async () => Promise.resolve('placed'))).toBe('placed');
  });

  it('refuses a new question beyond the pending limit, and forgets the oldest finished ones', async () => {
    const clock = new FakeClock();
    const store = storeAt(clock, 2);
    const first = openIn(store);
    openIn(store);
    expect(() => openIn(store)).toThrow(/already waiting/);
    store.decide(first, 'declined');
    for (let index = 0; index < 4; index++) {
      await clock.advance(1);
      store.decide(openIn(store), 'declined');
    }
    openIn(store);
    // At most three finished ones are kept, the newest.
    const kept = store.list().filter((approval) => approval.state === 'declined');
    expect(kept).toHaveLength(3);
    expect(store.get(first.id)).toBeUndefined();
  });
});
