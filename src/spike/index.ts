export type { ThresholdRule } from './threshold.js';
export { MEANABS_DEFAULT_K, threshold, maxAbs, meanAbs, quantileAbs } from './threshold.js';
export type { CountArray, BinaryScale } from './encode.js';
export { spikeCounts, binaryScale, binaryCounts } from './encode.js';
export { ternaryTrain, encodeTernaryTrains, binaryTrain, encodeBinaryTrains } from './neuron.js';
export type { CountHistogram, SpikeSummary } from './stats.js';
export { SpikeStats } from './stats.js';
