/** Messages between the page (main.ts) and the generation worker (worker.ts). */

/**
 * The methods the page offers (plus a loaded file's own method when it is another); all but `fp`
 * are assembled from the converted model's weights.
 */
export const PAGE_METHODS = ['fp', 'w4a4', 'spike-binary', 'sdllm', 'sdllm-t3'] as const;
/** A method name of src/sdllm/method.ts. */
export type PageMethod = string;

/** Which spiked matmul input of a decoder layer the raster shows. */
export const RASTER_SITES = {
  down: { role: 'down_proj', label: 'down_proj input (MLP hidden)' },
  gateup: { role: 'gate_proj', label: 'gate/up input (after post-attention norm)' },
  qkv: { role: 'q_proj', label: 'q/k/v input (after input norm)' },
  o: { role: 'o_proj', label: 'o_proj input (attention output)' },
} as const;
export type RasterSite = keyof typeof RASTER_SITES;

export interface RasterChoice {
  layer: number;
  site: RasterSite;
}

export interface GenerateOptions {
  max_new_tokens: number;
  /** 0: greedy. */
  temperature: number;
  top_k: number;
  seed: number;
}

export type ToWorker =
  | { type: 'load'; converted: { url: string } | { name: string; bytes: ArrayBuffer }; float: { url: string } | null }
  | { type: 'generate'; prompt: string; options: GenerateOptions; method: PageMethod; raster: RasterChoice }
  | { type: 'raster'; raster: RasterChoice }
  | { type: 'stop' };

export interface ModelInfo {
  name: string;
  /** The converted file's method and its one-line description. */
  method: string;
  description: string;
  layers: number;
  hidden: number;
  intermediate: number;
  vocab: number;
  parameters: number;
  bytes: number;
  /** Methods this model can run here, with why the others cannot. */
  methods: { name: PageMethod; available: boolean; why?: string }[];
  gamma: { min: number; max: number } | null;
  backend: string;
}

export interface MethodInfo {
  method: PageMethod;
  description: string;
  /** Where the assembled model departs from the method's preset. */
  notes: string[];
  timeSteps: number | null;
}

export interface TokenMessage {
  type: 'token';
  run: number;
  method: PageMethod;
  /** New text since the last message (may be empty while a UTF-8 character is incomplete). */
  delta: string;
  tokens: number;
  /** Rows the step ran: the prompt for the first token, then 1. */
  rows: number;
  /** Decode tokens per second since the first token (null until the second). */
  tokensPerSecond: number | null;
  /** pJ per token of this step, priced with horowitz45nm (floats as fp16). */
  energy: { compute: number; memory: number; reference: number; spike: number; denseInt: number; denseFloat: number; floatOps: number };
  /** Per decoder layer: spike events / (neurons × time steps) over its spiked matmuls, this step; null without spikes. */
  firing: number[] | null;
  /** This step's overall firing rate of the spiked matmuls. */
  firingRate: number | null;
  /** Fraction of neuron-tokens per spike count, counts from `min` up. */
  histogram: { min: number; fractions: number[] } | null;
  raster: { layer: number; site: RasterSite; name: string; T: number; n: number; trains: Int8Array } | { layer: number; site: RasterSite; name: string; none: string };
}

export interface DoneMessage {
  type: 'done';
  run: number;
  method: PageMethod;
  /** Text the streamer held back until the end. */
  delta: string;
  tokens: number;
  finishReason: 'eos' | 'length' | 'stopped';
  tokensPerSecond: number | null;
  /** Means over the decode steps (the prompt's step excluded), pJ per token. */
  meanCompute: number;
  meanMemory: number;
  meanReference: number;
  meanFiringRate: number | null;
  seconds: number;
}

export type FromWorker =
  | { type: 'status'; text: string }
  | { type: 'loaded'; info: ModelInfo }
  | { type: 'method'; info: MethodInfo }
  | { type: 'started'; run: number; method: PageMethod; promptTokens: number }
  | TokenMessage
  | DoneMessage
  | { type: 'error'; message: string };
