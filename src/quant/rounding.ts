// Integer rounding shared by weight quantization and spike encoding. Every quantizer in the
// engine goes through `quantizeValue`, so that weights, activation counts and spike trains agree
// bit for bit with a PyTorch reference that computes torch.round(x / scale) in fp32.

/** Round to the nearest integer, ties to even (IEEE roundTiesToEven, like torch.round / np.round). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // ties go toward +Infinity
  // `+ 0` turns -0 into 0 so that callers comparing with Object.is see a plain zero.
  return (r - x === 0.5 && r % 2 !== 0 ? r - 1 : r) + 0;
}

/**
 * x / scale as fp32 computes it. Dividing two fp32 values in float64 and rounding once to fp32 is
 * correctly rounded (53 >= 2*24 + 2), so this equals the fp32 quotient exactly. scale 0 gives 0
 * (an all-zero row or token has nothing to encode).
 */
export function quotient(x: number, scale: number): number {
  return scale === 0 ? 0 : Math.fround(Math.fround(x) / Math.fround(scale));
}

/** clamp(roundHalfEven(fp32(x / scale)), -qmax, qmax); qmax may be Infinity (unclipped). */
export function quantizeValue(x: number, scale: number, qmax: number): number {
  const q = roundHalfEven(quotient(x, scale));
  return q > qmax ? qmax : q < -qmax ? -qmax : q;
}
