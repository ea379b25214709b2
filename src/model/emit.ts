// Emits the step graphs of the built-in presets (models/<preset>/*.onnx), byte for byte reproducible.
import { presetModelConfig } from './config.js';
import { compileCriticStep, compileGeneratorStep, compileTrainIteration, generatorOnnx } from './graphs.js';
import { PRESET_LAYOUTS } from './presets.js';

/**
 * models/<preset>/d_step.onnx, g_step.onnx, iteration.onnx (the fused iteration training runs) and generator.onnx,
 * for the reference layouts of presets.ts.
 * Parameters, Adam state and BatchNorm statistics are graph inputs (nothing baked), so the files stay
 * small and do not depend on a seed. Keys are paths relative to the repository root.
 */
export function emitPresetModels(): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const preset of ['pcap', 'netflow'] as const) {
    const cfg = presetModelConfig(preset);
    const layout = PRESET_LAYOUTS[preset];
    out.set(`models/${preset}/d_step.onnx`, compileCriticStep(cfg, layout, 0).onnx);
    out.set(`models/${preset}/g_step.onnx`, compileGeneratorStep(cfg, layout, 0).onnx);
    out.set(`models/${preset}/iteration.onnx`, compileTrainIteration(cfg, layout, 0).onnx);
    out.set(`models/${preset}/generator.onnx`, generatorOnnx(cfg, layout, undefined, { preset }));
  }
  return out;
}
