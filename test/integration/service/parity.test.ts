import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPERATIONS } from '../../../src/common/operation.decorator';
import type { RunningService } from '../../../src/main';
import { connectMcpClient, startTestService } from './service-harness';

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  [key: string]: unknown;
};
interface OpenApiOperation {
  operationId: string;
  /** Set on routes that are REST by nature (a server-sent event stream), declared without @Operation. */
  'x-rest-only'?: boolean;
  parameters?: { name: string; in: string; required?: boolean; schema: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}

/** The parameters an OpenAPI operation takes, flattened: name → { required, type }. */
function restParameters(
  operation: OpenApiOperation,
): Map<string, { required: boolean; type: string | undefined }> {
  const parameters = new Map<string, { required: boolean; type: string | undefined }>();
  for (const parameter of operation.parameters ?? []) {
    parameters.set(parameter.name, { required: parameter.required === true, type: parameter.schema.type });
  }
  const body = operation.requestBody?.content['application/json']?.schema;
  for (const [name, property] of Object.entries(body?.properties ?? {})) {
    parameters.set(name, { required: body?.required?.includes(name) === true, type: property.type });
  }
  return parameters;
}

function toolParameters(inputSchema: Schema): Map<string, { required: boolean; type: string | undefined }> {
  return new Map(
    Object.entries(inputSchema.properties ?? {}).map(([name, property]) => [
      name,
      { required: inputSchema.required?.includes(name) === true, type: property.type },
    ]),
  );
}

function isEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The two faces must match: every OpenAPI operation is an MCP tool of the same name taking the same
 * parameters, and the other way round. It guards every operation added later.
 */
describe('REST / MCP parity', () => {
  let service: RunningService;
  let mcp: Client;
  let operations: Map<string, OpenApiOperation>;
  let tools: Awaited<ReturnType<Client['listTools']>>['tools'];

  beforeAll(async () => {
    service = await startTestService();
    mcp = await connectMcpClient(service);
    const document = (await (await fetch(`${service.urls.base}/docs-json`)).json()) as {
      paths: Record<string, Record<string, OpenApiOperation>>;
    };
    operations = new Map(
      Object.values(document.paths)
        .flatMap((methods) => Object.values(methods))
        .filter((operation) => typeof operation.operationId === 'string')
        .map((operation) => [operation.operationId, operation]),
    );
    ({ tools } = await mcp.listTools());
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  it('has one MCP tool per declared operation and one declared operation per tool', () => {
    const declared = OPERATIONS.map((operation) => operation.name).sort();
    expect(declared.length).toBeGreaterThan(0);
    expect(tools.map((tool) => tool.name).sort()).toEqual(declared);
  });

  it('documents exactly the declared operations in OpenAPI (infrastructure and REST-only routes aside)', () => {
    const declared = new Set(OPERATIONS.map((operation) => operation.name));
    const documented = [...operations.keys()].filter(
      (id) =>
        !id.startsWith('Health') && !id.startsWith('Metrics') && operations.get(id)?.['x-rest-only'] !== true,
    );
    expect(documented.sort()).toEqual([...declared].sort());
  });

  it('gives each tool the same parameters, types and required flags as its REST operation', () => {
    for (const tool of tools) {
      const operation = operations.get(tool.name);
      expect(operation).toBeDefined();
      if (!operation) continue;
      const rest = Object.fromEntries(restParameters(operation));
      const mcpParameters = Object.fromEntries(toolParameters(tool.inputSchema as Schema));
      // A parameter with a default is optional to the caller on both faces.
      expect({ tool: tool.name, parameters: rest }).toEqual({ tool: tool.name, parameters: mcpParameters });
    }
  });

  it('lets every tool but list_gateways name its gateway: an optional string `gateway` on both faces', () => {
    const optionalText = { required: false, type: 'string' };
    const without = tools.filter((tool) => {
      const onMcp = toolParameters(tool.inputSchema as Schema).get('gateway');
      const onRest = restParameters(operations.get(tool.name) ?? { operationId: tool.name }).get('gateway');
      return !(isEqual(onMcp, optionalText) && isEqual(onRest, optionalText));
    });
    expect(without.map((tool) => tool.name)).toEqual(['list_gateways']);
    const placeOrder = tools.find((tool) => tool.name === 'place_order');
    expect((placeOrder?.inputSchema as Schema).properties?.gateway).toMatchObject({ type: 'string' });
    expect((placeOrder?.inputSchema as Schema).required ?? []).not.toContain('gateway');
  });

  it('gives each tool an output schema and explicit safety annotations', () => {
    for (const tool of tools) {
      expect(tool.outputSchema).toBeDefined();
      const annotations = tool.annotations ?? {};
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        expect(typeof annotations[hint]).toBe('boolean');
      }
    }
  });

  it("lists every tool in the README's operations table", () => {
    const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Operations'), readme.indexOf('## Configuration'));
    expect(tools.map((tool) => tool.name).filter((name) => !table.includes(`\`${name}\``))).toEqual([]);
  });
});
