/**
 * A small JSON-schema checker for the keywords the Polygon stocks OpenAPI file uses in its 200
 * responses (type, properties, items, required, enum, nullable, allOf, oneOf, anyOf, format int32/
 * int64 as integer checks), so the simulator's responses can be checked against the real spec.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The four stock endpoints of the official OpenAPI description (from `massive-com/client-js`,
 * `src/openapi.json`, MIT), copied unchanged from `shared/reference/` so the test needs nothing
 * outside the repository.
 */
export const SPEC_URL = new URL('../fixtures/polygon-stocks-openapi.json', import.meta.url);

export function loadSpec(): any {
  const path = fileURLToPath(SPEC_URL);
  if (!existsSync(path)) {
    throw new Error(`OpenAPI reference not found at ${path}: expected test/fixtures/polygon-stocks-openapi.json`);
  }
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** The 200 application/json schema of a path template in the spec. */
export function responseSchema(spec: any, path: string): any {
  const op = spec.paths?.[path]?.get;
  const schema = op?.responses?.['200']?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`no 200 JSON schema for ${path}`);
  return schema;
}

const HANDLED = new Set([
  'type',
  'properties',
  'items',
  'required',
  'enum',
  'nullable',
  'allOf',
  'oneOf',
  'anyOf',
  'format',
  'description',
  'example',
  'default',
  'minimum',
  'maximum',
]);

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    default:
      throw new Error(`unsupported schema type ${type}`);
  }
}

/** Violations of `schema` by `value` (empty when it conforms). Unknown keywords are reported too. */
export function validate(schema: any, value: unknown, at = '$'): string[] {
  const errors: string[] = [];
  for (const k of Object.keys(schema)) {
    if (!HANDLED.has(k) && !k.startsWith('x-')) errors.push(`${at}: schema keyword ${k} not supported by the checker`);
  }
  if (value === null) {
    if (schema.nullable === true) return errors;
    if (schema.type !== undefined) return [...errors, `${at}: null not allowed`];
  }
  if (schema.allOf) for (const s of schema.allOf) errors.push(...validate(s, value, at));
  if (schema.anyOf && !schema.anyOf.some((s: any) => validate(s, value, at).length === 0)) errors.push(`${at}: matches none of anyOf`);
  if (schema.oneOf && schema.oneOf.filter((s: any) => validate(s, value, at).length === 0).length !== 1) {
    errors.push(`${at}: does not match exactly one of oneOf`);
  }
  if (schema.type !== undefined && !typeOk(schema.type, value)) {
    return [...errors, `${at}: expected ${schema.type}, got ${JSON.stringify(value)?.slice(0, 60)}`];
  }
  if (schema.format === 'int32' && typeof value === 'number' && (value < -(2 ** 31) || value >= 2 ** 31)) {
    errors.push(`${at}: ${value} out of int32 range`);
  }
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) errors.push(`${at}: missing required ${r}`);
    for (const [k, s] of Object.entries(schema.properties ?? {})) {
      if (k in obj) errors.push(...validate(s, obj[k], `${at}.${k}`));
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => errors.push(...validate(schema.items, v, `${at}[${i}]`)));
  return errors;
}
