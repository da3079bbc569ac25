import {
  applyDecorators,
  BadRequestException,
  createParamDecorator,
  Delete,
  Get,
  HttpCode,
  Post,
  SetMetadata,
  type ExecutionContext,
  type PipeTransform,
} from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiQuery } from '@nestjs/swagger';
import { Tool } from '@rekog/mcp-nest';
import type { Request } from 'express';
import { z } from 'zod';
import { ErrorBodySchema } from './api-exception.filter';
import { formatZodIssues, toOpenApiSchema, type JsonSchema } from './zod-json-schema';

/** Explicit safety annotations; MCP's defaults (destructive, open-world) are too pessimistic to leave implied. */
export interface SafetyHints {
  readOnly: boolean;
  destructive: boolean;
  idempotent: boolean;
  /** True when the operation reaches beyond this service and the gateway (e.g. the exchange). */
  openWorld: boolean;
}

export interface OperationDefinition<I extends z.ZodObject = z.ZodObject, O extends z.ZodType = z.ZodType> {
  /** The OpenAPI operationId and the MCP tool name: snake_case verb_noun. */
  name: string;
  summary: string;
  description?: string;
  input: I;
  output: O;
  safety: SafetyHints;
  /** HTTP verb; default GET for read-only operations, else POST. */
  method?: 'get' | 'post' | 'delete';
  /** Route path below the controller's; ':param' tokens are path parameters. */
  path: string;
}

/** Metadata key holding the operation name on each handler (metrics, logs). */
export const OPERATION_NAME = 'ibgs:operation-name';

/** Every declared operation, in declaration order (the parity test and docs read it). */
export const OPERATIONS: OperationDefinition[] = [];

const ROUTES = { get: Get, post: Post, delete: Delete } as const;

/**
 * Declares an operation once: this produces the Nest route, its OpenAPI entry, and the MCP tool of the
 * same name with the same input and output schemas and safety annotations.
 */
export function Operation<I extends z.ZodObject, O extends z.ZodType>(
  definition: OperationDefinition<I, O>,
): MethodDecorator {
  if (OPERATIONS.some((existing) => existing.name === definition.name)) {
    throw new Error(`Operation ${definition.name} is declared twice`);
  }
  OPERATIONS.push(definition);
  const method = definition.method ?? (definition.safety.readOnly ? 'get' : 'post');
  const { safety } = definition;
  const decorators: (MethodDecorator | ClassDecorator)[] = [
    ROUTES[method](definition.path),
    SetMetadata(OPERATION_NAME, definition.name),
    ApiOperation({
      operationId: definition.name,
      summary: definition.summary,
      ...(definition.description === undefined ? {} : { description: definition.description }),
    }),
    ApiOkResponse({ description: 'Success', schema: toOpenApiSchema(definition.output, 'output') }),
    Tool({
      name: definition.name,
      description: definition.description ?? definition.summary,
      parameters: toolInputSchema(definition.input),
      outputSchema: toolOutputSchema(definition.output),
      annotations: {
        title: definition.summary,
        readOnlyHint: safety.readOnly,
        destructiveHint: safety.destructive,
        idempotentHint: safety.idempotent,
        openWorldHint: safety.openWorld,
      },
    }),
    ...documentInput(definition.input, definition.path, method),
  ];
  if (method === 'post') decorators.push(HttpCode(200));
  return applyDecorators(...decorators);
}

/** What a Standard Schema's validate returns (zod's own type). */
type Validation = ReturnType<z.ZodType['~standard']['validate']>;

/** A Standard Schema (with its JSON Schema) as mcp-nest takes it for a tool's input and output. */
interface ToolSchema {
  '~standard': {
    version: 1;
    vendor: string;
    validate: (value: unknown) => Validation;
    jsonSchema: { input: () => JsonSchema; output: () => JsonSchema };
  };
}

const MCP_DIALECT = 'draft-2020-12';

function toolSchema(json: () => JsonSchema, validate: (value: unknown) => Validation): ToolSchema {
  let cached: JsonSchema | undefined;
  const once = () => (cached ??= json());
  return {
    '~standard': {
      version: 1,
      vendor: 'ib-gateway-supervisor',
      validate,
      jsonSchema: { input: once, output: once },
    },
  };
}

/**
 * The tool's input as MCP clients see it (the operation's schema), checked not by mcp-nest but by @Input in
 * Nest's pipeline, like REST: after the access guard, and refused with the same error answer (code
 * INVALID_INPUT, in the result's structuredContent too).
 */
function toolInputSchema(input: z.ZodObject): ToolSchema {
  return toolSchema(
    () => z.toJSONSchema(input, { target: MCP_DIALECT, io: 'input' }) as JsonSchema,
    (value) => ({ value }),
  );
}

/**
 * The tool's output as MCP clients see it: the operation's output, or the error body of an `isError` result
 * (its structuredContent). The SDK's v1 client checks structuredContent against the declared outputSchema even
 * on an error result (modelcontextprotocol/typescript-sdk#1943), so the error body is declared beside the
 * output. The server checks the operation's own output schema, as before.
 */
function toolOutputSchema(output: z.ZodType): ToolSchema | z.ZodType {
  if (!(output instanceof z.ZodObject)) return output; // mcp-nest advertises no outputSchema for these
  const validate = (value: unknown): Validation => output['~standard'].validate(value);
  return toolSchema(() => {
    const { $schema, $defs, ...success } = z.toJSONSchema(output, { target: MCP_DIALECT, io: 'output' });
    const { $schema: _dialect, ...error } = z.toJSONSchema(ErrorBodySchema, {
      target: MCP_DIALECT,
      io: 'output',
    });
    return {
      ...($schema === undefined ? {} : { $schema }),
      type: 'object', // MCP requires an object at the root
      ...($defs === undefined ? {} : { $defs }), // success's $refs point to the root
      anyOf: [success, error],
    };
  }, validate);
}

/** Swagger ignores custom parameter decorators, so the input is documented from its schema here. */
function documentInput(
  input: z.ZodObject,
  path: string,
  method: 'get' | 'post' | 'delete',
): MethodDecorator[] {
  const json = toOpenApiSchema(input, 'input');
  const properties = json.properties ?? {};
  const required = json.required ?? [];
  const pathParams = [...path.matchAll(/:(\w+)/g)].map((match) => match[1] ?? '');
  const decorators: MethodDecorator[] = pathParams.map((name) =>
    ApiParam({ name, required: true, schema: properties[name] ?? { type: 'string' } }),
  );
  const rest = Object.keys(properties).filter((name) => !pathParams.includes(name));
  if (method !== 'post') {
    for (const name of rest) {
      decorators.push(ApiQuery({ name, required: required.includes(name), schema: properties[name] ?? {} }));
    }
    return decorators;
  }
  const body: JsonSchema = {
    ...json,
    properties: Object.fromEntries(rest.map((name) => [name, properties[name] ?? {}])),
  };
  const bodyRequired = required.filter((name) => !pathParams.includes(name));
  if (bodyRequired.length > 0) body.required = bodyRequired;
  else delete body.required;
  decorators.push(ApiBody({ schema: body, required: bodyRequired.length > 0 }));
  return decorators;
}

class ZodInputPipe implements PipeTransform {
  constructor(private readonly schema: z.ZodType) {}

  transform(value: unknown): unknown {
    const result = this.schema.safeParse(value);
    if (!result.success)
      throw new BadRequestException(`Invalid parameters: ${formatZodIssues(result.error)}`);
    return result.data;
  }
}

/** Query strings and path parameters arrive as text: coerce them to the property's JSON type. */
function coerceText(
  values: Record<string, unknown>,
  types: Record<string, unknown>,
): Record<string, unknown> {
  const coerced: Record<string, unknown> = { ...values };
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'string') continue;
    const type = types[name];
    if ((type === 'number' || type === 'integer') && value.trim() !== '' && !Number.isNaN(Number(value))) {
      coerced[name] = Number(value);
    } else if (type === 'boolean' && (value === 'true' || value === 'false')) {
      coerced[name] = value === 'true';
    }
  }
  return coerced;
}

function propertyTypes(schema: z.ZodObject): Record<string, unknown> {
  const properties = toOpenApiSchema(schema, 'input').properties ?? {};
  return Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, property.type]));
}

/**
 * How a REST query string becomes an operation's input, outside Nest's pipeline (a fast route): the same
 * coercion as @Input, then the schema. Undefined when the schema refuses it (the full route says why).
 */
export function queryInputParser<S extends z.ZodObject>(
  schema: S,
): (query: Record<string, unknown>) => z.infer<S> | undefined {
  const types = propertyTypes(schema);
  return (query) => {
    const result = schema.safeParse(coerceText(query, types));
    return result.success ? result.data : undefined;
  };
}

// The decorator's data must not be the zod schema itself: Nest treats data with a transform() as a pipe.
const RawInput = createParamDecorator(
  (types: Record<string, unknown>, context: ExecutionContext): unknown => {
    if (context.getType() === 'http') {
      const request = context.switchToHttp().getRequest<Request>();
      return {
        ...coerceText(request.query, types),
        ...((request.body ?? {}) as Record<string, unknown>),
        ...coerceText(request.params, types),
      };
    }
    return context.switchToRpc().getData(); // MCP tool arguments
  },
);

/** The operation's input in both faces (REST query/body/path, MCP arguments), validated by one schema. */
export function Input(schema: z.ZodObject): ParameterDecorator {
  return RawInput(propertyTypes(schema), new ZodInputPipe(schema));
}
