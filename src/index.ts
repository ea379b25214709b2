// Library entry point: the typed API behind every `netshare` command.
export * from './errors.js';
