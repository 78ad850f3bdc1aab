/** sdllm: spike-driven LLMs in TypeScript. The library's public API. */
export { SdllmError } from './errors.js';
export type { ModelConfig, Architecture, RopeScaling } from './model/config.js';
export { parameterCount } from './model/config.js';
export type { Tokenizer, EncodeOptions, DecodeOptions } from './model/tokenizer.js';
export { LlamaModel, type ForwardOptions, type DecoderLayer } from './model/llama.js';
export { KVCache } from './model/kv-cache.js';
export { DenseLinear, type Linear } from './model/linear.js';
export { buildModel, type LinearFactory, type LinearSpec, type LinearRole } from './model/build.js';
export { loadModel, openCheckpoint, loadFloatWeights, type Checkpoint, type LoadOptions } from './model/load.js';
export { generate, formatTimings, type GenerationOptions, type GenerationResult, type GenerationTimings } from './generate/generate.js';
export { TextStreamer, type Streamer } from './generate/streamer.js';
export { pipeline, type TextGenerationPipeline, type TextGenerationOutput } from './generate/pipeline.js';
export { readSafetensorsHeader, writeSafetensors } from './formats/safetensors.js';
export { DEFAULT_MODEL } from './paths.js';
