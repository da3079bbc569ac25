import { ApiTags } from '@nestjs/swagger';
import { McpController } from '@rekog/mcp-nest';
import type { z } from 'zod';
import { Input, Operation } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice } from '../gateway/gateway-router';
import {
  ContractDetailsResult,
  ContractQueryInput,
  OptionChainInput,
  OptionChainResult,
  OptionContractsInput,
  OptionContractsResult,
  SearchContractsInput,
  SearchContractsResult,
} from './contracts.schemas';
import { ContractsService } from './contracts.service';

const READ_ONLY = { readOnly: true, destructive: false, idempotent: true, openWorld: false } as const;

@ApiTags('contracts')
@McpController('contracts')
export class ContractsController {
  constructor(private readonly router: GatewayRouter) {}

  /** Contracts come from the gateway for data unless one is named. */
  private contracts(input: GatewayChoice): ContractsService {
    return this.router.forData(input).get(ContractsService);
  }

  @Operation({
    name: 'search_contracts',
    summary: 'Search contracts by symbol or name',
    description:
      "IB's symbol search: instruments whose symbol starts with the pattern, or whose name has a word starting with it (at most 16), each with the kinds of derivatives listed on it.",
    path: 'search',
    input: SearchContractsInput,
    output: SearchContractsResult,
    safety: READ_ONLY,
  })
  async search(
    @Input(SearchContractsInput) input: z.infer<typeof SearchContractsInput>,
  ): Promise<z.infer<typeof SearchContractsResult>> {
    return this.contracts(input).searchContracts(input);
  }

  @Operation({
    name: 'get_contract_details',
    summary: 'Get the details of a contract',
    description:
      'Qualifies a contract named by symbol (with security type, exchange, currency, expiry, strike, right) or by conId. One match: match "unique" and the contract with its details. Several: match "ambiguous" and the candidates, each with the conId to name it by. None: 404 naming the symbol.',
    path: 'details',
    input: ContractQueryInput,
    output: ContractDetailsResult,
    safety: READ_ONLY,
  })
  async details(
    @Input(ContractQueryInput) input: z.infer<typeof ContractQueryInput>,
  ): Promise<z.infer<typeof ContractDetailsResult>> {
    return this.contracts(input).contractDetails(input);
  }

  @Operation({
    name: 'get_option_expirations_strikes',
    summary: "Get an underlying's option expirations and strikes",
    description:
      'The option chain of a stock, index or future: for each exchange and trading class, the expirations (YYYYMMDD) and strikes. Use get_option_contracts for the contracts themselves.',
    path: 'option-chain',
    input: OptionChainInput,
    output: OptionChainResult,
    safety: READ_ONLY,
  })
  async optionChain(
    @Input(OptionChainInput) input: z.infer<typeof OptionChainInput>,
  ): Promise<z.infer<typeof OptionChainResult>> {
    return this.contracts(input).optionChain(input);
  }

  @Operation({
    name: 'get_option_contracts',
    summary: 'Get the option contracts of an underlying for one expiry',
    description:
      'The qualified option contracts (with conIds) of an underlying for an expiry, optionally only calls or puts and a strike range; at most `limit`, nearest to the middle strike first.',
    path: 'options',
    input: OptionContractsInput,
    output: OptionContractsResult,
    safety: READ_ONLY,
  })
  async optionContracts(
    @Input(OptionContractsInput) input: z.infer<typeof OptionContractsInput>,
  ): Promise<z.infer<typeof OptionContractsResult>> {
    return this.contracts(input).optionContracts(input);
  }
}
