import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RunningService } from '../../../src/main';
import { connectMcpClient, startTestService } from '../service/service-harness';

/** The tool names a prompt's text asks for (written `like_this` in backticks). */
function toolsNamedIn(text: string): string[] {
  return [...text.matchAll(/`([a-z]+(?:_[a-z]+)+)`/g)].map((match) => match[1] ?? '');
}

const textOf = (result: Awaited<ReturnType<Client['getPrompt']>>): string =>
  result.messages.map((message) => (message.content.type === 'text' ? message.content.text : '')).join('\n');

describe('MCP prompts for the common jobs, through a real MCP client', () => {
  let service: RunningService;
  let mcp: Client;
  let tools: Set<string>;

  beforeAll(async () => {
    service = await startTestService();
    mcp = await connectMcpClient(service);
    tools = new Set((await mcp.listTools()).tools.map((tool) => tool.name));
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  it('lists the four prompts with their arguments, required ones marked', async () => {
    const { prompts } = await mcp.listPrompts();
    const byName = new Map(prompts.map((prompt) => [prompt.name, prompt]));
    expect([...byName.keys()].sort()).toEqual(
      ['explain_position_pnl', 'place_order_safely', 'review_portfolio', 'troubleshoot_gateway'].sort(),
    );
    const place = byName.get('place_order_safely');
    const required = (place?.arguments ?? []).filter((arg) => arg.required).map((arg) => arg.name);
    expect(required.sort()).toEqual(['quantity', 'side', 'symbol']);
    for (const prompt of prompts) {
      expect(prompt.description).toBeTruthy();
      for (const argument of prompt.arguments ?? []) expect(argument.description).toBeTruthy();
    }
    expect(byName.get('troubleshoot_gateway')?.arguments?.every((arg) => arg.required !== true)).toBe(true);
  });

  it('lays out a safe order: the exact order, preview before place, an idempotency key, and only tools that exist', async () => {
    const result = await mcp.getPrompt({
      name: 'place_order_safely',
      arguments: { symbol: 'AAPL', side: 'BUY', quantity: '10', orderType: 'LMT', limitPrice: '187.25' },
    });
    const text = textOf(result);
    expect(text).toContain('BUY 10 AAPL LMT at 187.25');
    const named = toolsNamedIn(text);
    expect(named.indexOf('preview_order')).toBeGreaterThanOrEqual(0);
    expect(named.indexOf('preview_order')).toBeLessThan(named.indexOf('place_order'));
    expect(text).toContain('idempotencyKey');
    expect(named.filter((name) => !tools.has(name) && name !== 'idempotency_key')).toEqual([]);
  });

  it.each([
    ['review_portfolio', { account: 'DU1234567', focus: 'margin' }, ['get_account_summary', 'get_positions']],
    ['explain_position_pnl', { symbol: 'MSFT' }, ['get_positions', 'get_position_pnl']],
    ['troubleshoot_gateway', { symptom: 'quotes stopped' }, ['get_health_status', 'get_gateway_logs']],
  ])('%s names its arguments and only tools that exist', async (name, args, expected) => {
    const text = textOf(await mcp.getPrompt({ name, arguments: args }));
    for (const value of Object.values(args)) expect(text).toContain(value);
    const named = toolsNamedIn(text);
    expect(named).toEqual(expect.arrayContaining(expected));
    expect(named.filter((tool) => !tools.has(tool))).toEqual([]);
  });

  it('refuses missing or malformed arguments with the protocol error naming them', async () => {
    const missing = mcp.getPrompt({ name: 'place_order_safely', arguments: { symbol: 'AAPL' } });
    await expect(missing).rejects.toMatchObject({ code: -32602 });
    await expect(missing).rejects.toThrow(/Invalid prompt arguments: side: .*; quantity: /);
    await expect(
      mcp.getPrompt({
        name: 'place_order_safely',
        arguments: { symbol: 'AAPL', side: 'BUY', quantity: '0' },
      }),
    ).rejects.toThrow(/quantity: must be a positive number/);
    await expect(mcp.getPrompt({ name: 'no_such_prompt', arguments: {} })).rejects.toThrow(/Unknown prompt/);
  });
});
