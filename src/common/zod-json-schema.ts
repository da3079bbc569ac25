import { z } from 'zod';

export type JsonSchema = Record<string, unknown> & {
  properties?: Record<string, Record<string, unknown>>;
  required?: string[];
};

/** zod 4 → an OpenAPI 3.0 schema object (Nest 11's swagger has no Standard Schema support). */
export function toOpenApiSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { target: 'openapi-3.0', io }) as JsonSchema;
  return json;
}

/** The same text mcp-nest produces for its own validation, so REST and MCP say the same thing. */
export function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return `${path ? `[${path}]: ` : ''}${issue.message}`;
    })
    .join('; ');
}
