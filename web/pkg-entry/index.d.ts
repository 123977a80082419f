export type { BatchVerdict, EventRequest, EventType, FieldError, UserEvent, Verdict } from "./event_schema.js";
export { check, eventTypes, schemaVersion } from "./event_schema.js";
export { default, initSync, type InitInput, type InitOutput, type SyncInitInput } from "./event_schema.js"; // not in the bundler build
import type { BatchVerdict, Verdict } from "./event_schema.js";

/** Validates a request body given as JSON text, exactly as `POST /events/generate` does. */
export function validate(json: string): Verdict;
/** Validates a value as a request body, serialized with `JSON.stringify` as `fetch` would send it. */
export function validateObject(value: unknown): Verdict;
/** Validates a batch body given as JSON text, exactly as `POST /events/batch` does: the batch's
 *  own verdict and each item's, in order. */
export function validateBatch(json: string): BatchVerdict;
