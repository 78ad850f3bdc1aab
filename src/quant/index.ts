export { roundHalfEven, quotient, quantizeValue } from './rounding.js';
export type { WeightBits, WeightQuantOptions, QuantizedWeights } from './weights.js';
export { weightQmax, bytesPerColumn, quantizeWeights, packColumns, unpackColumn, unpackAll, dequantize } from './weights.js';
export { mulberry32, randomSigns } from '../util/prng.js';
export { isPrime, paleyI, paleyII, paleyHadamard } from './paley.js';
export type { HadamardPlan } from './hadamard.js';
export {
  fwht,
  isPowerOfTwo,
  countAddsFWHT,
  hadamardPlan,
  hadamardMatrix,
  RandomizedHadamard,
  onlineBlockSize,
  BlockHadamard,
} from './hadamard.js';
