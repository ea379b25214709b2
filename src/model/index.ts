// The model library API the pipeline calls: train a chunk, sample flows, export the generator.
export { trainChunk, checkpointMeta, type TrainChunkOptions, type TrainProgress, type TrainResult, type CheckpointMeta } from './train.js';
export { sample, sampleAttributes, attributeSampler, type AttributeSampler, sampleFeatures, featureSamplerSessions, projectionInputs, type AttributeProjection, type FeatureSamplerSessions, calibrateEndHazards, type EndHazardCalibration, type FeatureSampleOptions, exportGenerator, type SampleOptions, type SampleResult, type AttributeSampleResult, type FeatureSampleResult } from './sample.js';
export { parseModelConfig, presetModelConfig, modelConfigSchema, MODEL_PRESETS, type ModelConfig, type ModelConfigInput } from './config.js';
export { type ModelLayout, type FieldSlice, type Activation, type ChunkTensors, validateLayout, validateTensors, withGenFlag, layoutWidth } from './layout.js';
export { applyStoppingRule, discreteCopy, stopMask } from './postprocess.js';
export { encodeCheckpoint, decodeCheckpoint, readCheckpoint, type Checkpoint, type CheckpointStore } from './checkpoint.js';
export { GENERATOR_IO } from './graphs.js';
