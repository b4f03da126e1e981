/**
 * The run-folder module: the one place that knows a run folder (docs/ARCHITECTURE.md, "Where each
 * fact lives"). `layout` (paths and names), `lines` (journal line types and validators),
 * `journal-reader` (the torn-tail rule once), `folder` (open, list, locks), `parquet-footer`
 * (row counts), `model` (the read model every operating command is a view of).
 */
export * from './layout.js';
export * from './lines.js';
export * from './journal-reader.js';
export * from './folder.js';
export * from './parquet-footer.js';
export * from './model.js';
