/**
 * IB's message codes for orders and accounts (TWS API message codes). Where IB's exact wording of a
 * validation failure is not public, the text follows IB's 321 pattern "Error validating request.-'xx' :
 * cause - ...".
 */
export const BrokerCode = {
  DUPLICATE_ORDER_ID: 103,
  ORDER_MISMATCH: 105,
  ORDER_NOT_FOUND: 135,
  NO_SECURITY_DEFINITION: 200,
  ORDER_REJECTED: 201,
  ORDER_CANCELLED: 202,
  VALIDATION_FAILED: 321,
  AUTO_BIND_NEEDS_CLIENT_ZERO: 327,
  UNSUPPORTED_ORDER_TYPE: 387,
  INVALID_STOP_PRICE: 403,
  WHAT_IF_NEEDS_TRANSMIT: 413,
  ORDER_SIZE_ZERO: 434,
  INVALID_PRICE_VARIATION: 110,
  CANCEL_NOT_FOUND: 10147,
} as const;

const validation = (cause: string): string => `Error validating request.-'bN' : cause - ${cause}`;

export const BrokerMessage = {
  duplicateOrderId: 'Duplicate order id',
  orderMismatch: 'Order being modified does not match original order.',
  parentNotFound: (parentId: number) => `Can't find order with ID = ${parentId}`,
  noSecurityDefinition: 'No security definition has been found for the request',
  ambiguousContract: (symbol: string) => `The contract description specified for ${symbol} is ambiguous.`,
  notTradable: (secType: string) =>
    `Order rejected - reason:Orders cannot be placed on ${secType} contracts.`,
  orderCancelled: 'Order Canceled - reason:',
  invalidAccount: (account: string) => validation(`Invalid account code '${account}'.`),
  invalidAction: (action: string) => validation(`Invalid action '${action}'.`),
  negativeQuantity: validation('The order size must be positive.'),
  missingLimitPrice: validation('The limit price is missing.'),
  missingTrailingAmount: validation('A trailing amount or a trailing percent is required.'),
  autoBindNeedsClientZero:
    'Only API connections with clientId set to 0 can set the auto bind TWS orders property.',
  unsupportedOrderType: 'Unsupported order type for this exchange and security type.',
  invalidStopPrice: 'Invalid stop price.',
  whatIfNeedsTransmit: 'What-if order should have the transmit flag set to true.',
  orderSizeZero: 'The order size cannot be zero.',
  // Assumed wordings (IB's exact texts for these are not public): 321 and 201 patterns as above.
  missingGoodTillDate: validation('The Good Till Date is missing for a GTD order.'),
  goodTillDatePast: 'Order rejected - reason:The Good Till Date is in the past.',
  onCloseCutoff:
    'Order rejected - reason:The MOC/LOC order was submitted after the exchange cutoff time for on-close orders.',
  missingOffset: validation('The offset of a relative order is missing.'),
  priceVariation: 'The price does not conform to the minimum price variation for this contract.',
  cancelNotFound: (orderId: number) => `OrderId ${orderId} that needs to be cancelled is not found.`,
} as const;

/** What a combo (BAG) order is refused with: IB's texts for these are not public; 321's pattern. */
export const ComboMessage = {
  legCount: validation('A combo order needs at least two legs.'),
  invalidLeg: (index: number) => validation(`Combo leg ${index + 1} needs a positive ratio and BUY or SELL.`),
} as const;
