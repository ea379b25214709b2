// Library entry point: the typed API behind every `netshare` command.
export * from './errors.js';
export * as graph from './graph/index.js';
export * as runtime from './runtime/index.js';
