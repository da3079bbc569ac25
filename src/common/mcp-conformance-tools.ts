import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { inputRequired } from '@modelcontextprotocol/server';
import { MCP_STRATEGY, type McpStrategy } from '@rekog/mcp-nest';

/** The environment variable that turns the conformance suite's diagnostic tools on; never set in production. */
export const CONFORMANCE_TOOLS_ENV = 'IBGS_MCP_CONFORMANCE_TOOLS';

const DIAGNOSTIC = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

/**
 * The three tools the official MCP conformance suite (stateless scenario) calls to check rules it cannot
 * reach otherwise: a capability the client did not declare (-32021, HTTP 400), no independent request on a
 * response stream, no log notification without a requested log level. They exist only with
 * IBGS_MCP_CONFORMANCE_TOOLS=true, are registered beside the operations (not among them: no REST face, not
 * in the parity), and touch nothing of IB.
 */
@Injectable()
export class McpConformanceTools implements OnModuleInit {
  constructor(@Inject(MCP_STRATEGY) private readonly strategy: McpStrategy) {}

  static enabled(env: NodeJS.ProcessEnv = process.env): boolean {
    return env[CONFORMANCE_TOOLS_ENV] === 'true';
  }

  onModuleInit(): void {
    if (!McpConformanceTools.enabled()) return;
    this.strategy.registerTool({
      name: 'test_missing_capability',
      description: 'Conformance diagnostic: asks for sampling, which the caller must have declared',
      annotations: DIAGNOSTIC,
      // The SDK answers -32021 with HTTP 400 when the request did not declare sampling. mcp-nest passes a
      // result through only when it carries a content array, hence the empty one.
      handler: () => ({
        ...inputRequired({
          inputRequests: {
            sample: inputRequired.createMessage({
              messages: [{ role: 'user', content: { type: 'text', text: 'Say ok.' } }],
              maxTokens: 8,
            }),
          },
        }),
        content: [],
      }),
    });
    this.strategy.registerTool({
      name: 'test_streaming_elicitation',
      description: 'Conformance diagnostic: answers with a plain result and sends no request on the stream',
      annotations: DIAGNOSTIC,
      handler: () => ({ content: [{ type: 'text', text: 'ok' }] }),
    });
    this.strategy.registerTool({
      name: 'test_logging_tool',
      description:
        'Conformance diagnostic: logs through the request, which the SDK drops unless a log level was asked',
      annotations: DIAGNOSTIC,
      handler: (_args, context) => {
        context.log.info('conformance diagnostic log line');
        return { content: [{ type: 'text', text: 'logged' }] };
      },
    });
  }
}
