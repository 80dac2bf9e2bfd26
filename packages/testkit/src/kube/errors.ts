/**
 * Operating errors of the emulated API server. Each condition has a stable `reason` (the Kubernetes
 * StatusReason, which clients switch on) and HTTP `code`; the edge turns the error into the
 * `Status` body the real API server sends, so clients read the same code, reason and message.
 */
import type { JsonObject } from './json.js';

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  /** For most reasons the resource (plural, e.g. `configmaps`); for Invalid the Kind, as the API server does. */
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** What error messages name: a resource of a group. */
export interface ResourceName {
  readonly group: string;
  readonly plural: string;
  readonly kind: string;
}

export class KubeStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details: StatusDetails = {},
  ) {
    super(message);
    this.name = 'KubeStatusError';
  }

  /** The `Status` object the API server returns for this error. */
  toStatus(): JsonObject {
    const status: JsonObject = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (Object.keys(this.details).length > 0) status.details = this.details;
    return status;
  }
}

/** `statefulsets.apps` or `configmaps`, as the API server names resources in messages. */
export function qualifiedResource(resource: ResourceName): string {
  return resource.group ? `${resource.plural}.${resource.group}` : resource.plural;
}

function objectDetails(resource: ResourceName, name: string): StatusDetails {
  return resource.group ? { name, group: resource.group, kind: resource.plural } : { name, kind: resource.plural };
}

export const OBJECT_MODIFIED_MESSAGE =
  'the object has been modified; please apply your changes to the latest version and try again';

const REASON_BY_CODE: Record<number, StatusReason> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export const kubeErrors = {
  notFound: (resource: ResourceName, name: string) =>
    new KubeStatusError(404, 'NotFound', `${qualifiedResource(resource)} "${name}" not found`, objectDetails(resource, name)),
  pathNotFound: () => new KubeStatusError(404, 'NotFound', 'the server could not find the requested resource'),
  unknownType: (apiVersion: string, kindOrResource: string) =>
    new KubeStatusError(
      404,
      'NotFound',
      `the server doesn't have a resource type "${kindOrResource}" in group version "${apiVersion}"`,
    ),
  alreadyExists: (resource: ResourceName, name: string) =>
    new KubeStatusError(
      409,
      'AlreadyExists',
      `${qualifiedResource(resource)} "${name}" already exists`,
      objectDetails(resource, name),
    ),
  conflict: (resource: ResourceName, name: string, why: string) =>
    new KubeStatusError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualifiedResource(resource)} "${name}": ${why}`,
      objectDetails(resource, name),
    ),
  preconditionFailed: (resource: ResourceName, name: string, why: string) =>
    new KubeStatusError(409, 'Conflict', `Precondition failed: ${why}`, objectDetails(resource, name)),
  applyConflict: (message: string, causes: StatusCause[]) =>
    new KubeStatusError(409, 'Conflict', message, { causes }),
  invalid: (resource: ResourceName, name: string, causes: StatusCause[]) => {
    const kind = resource.group ? `${resource.kind}.${resource.group}` : resource.kind;
    const list = causes.map((cause) => `${cause.field}: ${cause.message}`);
    const what = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
    const details: StatusDetails = resource.group
      ? { name, group: resource.group, kind: resource.kind, causes }
      : { name, kind: resource.kind, causes };
    return new KubeStatusError(422, 'Invalid', `${kind} "${name}" is invalid: ${what}`, details);
  },
  badRequest: (message: string) => new KubeStatusError(400, 'BadRequest', message),
  forbidden: (resource: ResourceName, name: string, why: string) =>
    new KubeStatusError(
      403,
      'Forbidden',
      `${qualifiedResource(resource)} "${name}" is forbidden: ${why}`,
      objectDetails(resource, name),
    ),
  methodNotAllowed: () =>
    new KubeStatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
  unsupportedMediaType: (contentType: string, accepted: readonly string[]) =>
    new KubeStatusError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format (${contentType || 'no Content-Type'}) - ` +
        `accepted media types include: ${accepted.join(', ')}`,
    ),
  requestEntityTooLarge: (bytesMax: number) =>
    new KubeStatusError(413, 'RequestEntityTooLarge', `the request body is larger than ${bytesMax} bytes`),
  expired: (requested: number, oldest: number) =>
    new KubeStatusError(410, 'Expired', `too old resource version: ${requested} (${oldest})`),
  resourceVersionTooLarge: (requested: number, current: number) =>
    new KubeStatusError(504, 'Timeout', `Too large resource version: ${requested}, current: ${current}`, {
      causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
      retryAfterSeconds: 1,
    }),
  tooManyWatches: (watchesMax: number) =>
    new KubeStatusError(429, 'TooManyRequests', `too many open watches (at most ${watchesMax})`),
  internal: (message: string) => new KubeStatusError(500, 'InternalError', `Internal error occurred: ${message}`),
  /** A fault a test asked for with failNext(): the reason follows the code unless given. */
  injected: (code: number, reason?: StatusReason, message?: string) =>
    new KubeStatusError(code, reason ?? REASON_BY_CODE[code] ?? 'InternalError', message ?? `injected fault (HTTP ${code})`),
};
