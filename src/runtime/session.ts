// onnxruntime-node sessions with explicit execution-provider selection (the only module that loads onnxruntime).
import * as ort from 'onnxruntime-node';
import { ConfigError, NetShareError } from '../errors.js';

export type Device = 'cpu' | 'cuda';

export interface SessionOptions {
  /** Execution provider: 'cpu' (default) or 'cuda'. A missing CUDA provider is an error, never a CPU fallback. */
  device?: Device;
  /** Threads for one operator (intra-op). Default: onnxruntime's choice (one per core). */
  intraOpThreads?: number;
  /** Graph optimization level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** CUDA device id (default 0). */
  deviceId?: number;
}

export { ort };

/** Raised when the requested execution provider cannot be used on this machine. */
export class DeviceError extends NetShareError {
  override readonly name = 'DeviceError';
}

function cudaBackendListed(): boolean {
  return ort.listSupportedBackends().some((b) => b.name === 'cuda');
}

/** Creates an inference session for ONNX bytes on the requested device. */
export async function createSession(model: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const device = opts.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new ConfigError(`Expected "cpu" or "cuda" for device but received ${JSON.stringify(device)}`, 'device');
  if (opts.intraOpThreads !== undefined && (!Number.isInteger(opts.intraOpThreads) || opts.intraOpThreads < 0)) {
    throw new ConfigError(`Expected a non-negative integer for intraOpThreads but received ${opts.intraOpThreads}`, 'intraOpThreads');
  }
  const o: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: opts.optimization ?? 'all',
    executionProviders: device === 'cuda' ? [{ name: 'cuda', deviceId: opts.deviceId ?? 0 }] : ['cpu'],
    executionMode: 'sequential',
  };
  if (opts.intraOpThreads !== undefined) o.intraOpNumThreads = opts.intraOpThreads;
  if (device === 'cuda' && !cudaBackendListed()) {
    throw new DeviceError('CUDA was requested but this onnxruntime-node build has no CUDA backend; run scripts/install-cuda-provider.sh (see README.md, GPU) or use --device cpu');
  }
  try {
    return await ort.InferenceSession.create(model, o);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (device === 'cuda') {
      throw new DeviceError(`CUDA was requested but its execution provider could not be loaded (${msg.split('\n')[0]}); run scripts/install-cuda-provider.sh and put the CUDA 13 + cuDNN 9 libraries on LD_LIBRARY_PATH, or use --device cpu`, { cause: err });
    }
    throw new NetShareError(`onnxruntime could not load the model: ${msg.split('\n')[0]}`, { cause: err });
  }
}
