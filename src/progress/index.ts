/**
 * The typed progress/heartbeat model shared by `tickpipe run` (the writer: the live view and the
 * heartbeat lines) and its readers (`tail`, `report`, `status`). See model.ts for how to extend it.
 */
export * from './rate.js';
export * from './model.js';
export * from './heartbeat.js';
export * from './format.js';
