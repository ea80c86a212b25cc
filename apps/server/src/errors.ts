/**
 * Errors with stable codes. Services throw these; one Fastify error handler (app.ts) maps them
 * to HTTP once. Keep `cause` when wrapping.
 */
export class NiroError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BadRequestError extends NiroError {
  constructor(code: string, message: string, details?: unknown) {
    super(400, code, message, details);
  }
}
export class UnauthorizedError extends NiroError {
  constructor(code = 'unauthorized', message = 'Authentication required') {
    super(401, code, message);
  }
}
export class ForbiddenError extends NiroError {
  constructor(code = 'forbidden', message = 'You do not have permission to do this') {
    super(403, code, message);
  }
}
export class NotFoundError extends NiroError {
  constructor(what: string, code = 'not_found') {
    super(404, code, `${what} not found`);
  }
}
export class ConflictError extends NiroError {
  constructor(code: string, message: string, details?: unknown) {
    super(409, code, message, details);
  }
}
export class TooManyRequestsError extends NiroError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, 'rate_limited', message, { retryAfterSeconds });
  }
}
