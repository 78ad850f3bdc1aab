export { roundHalfEven, quotient, quantizeValue } from './rounding.js';
export type { WeightBits, WeightQuantOptions, QuantizedWeights } from './weights.js';
export { weightQmax, bytesPerColumn, quantizeWeights, packColumns, unpackColumn, unpackAll, dequantize, rowMajorPacked4 } from './weights.js';
export { W4A16Linear } from './w4a16-linear.js';
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
