// Public API of the runtime: sessions on onnxruntime-node, the trainer, the parameter-file format.
export { createSession, DeviceError, type Device, type SessionOptions } from './session.js';
export { Trainer, type FeedValue } from './trainer.js';
export { encodeParams, decodeParams, PARAMS_MAGIC, PARAMS_VERSION, type ParamEntry, type ParamFile } from './params-file.js';
