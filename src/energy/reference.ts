/**
 * The dense float reference of the energy meter: the operations the float model (method `fp`,
 * every matmul a DenseLinear, float attention) counts for one token decoded at a position. They
 * depend only on the shapes and the position, not on the token, so the web page prices them
 * beside the counted operations of whichever method runs. test/energy.test.ts checks this
 * against the engine's own counters.
 */
import type { ModelConfig } from '../model/config.js';
import { firstPosition } from '../model/attention.js';
import { countOtherOps } from '../model/llama.js';
import { OpCounts } from './ops.js';

/**
 * Operations of the float model running one token at `position` (0-based; the cache holds
 * `position` tokens). `scored`: whether its logits are computed (final norm and lm_head) — every
 * decoded token, but in a prompt's step only the last row.
 */
export function denseTokenOps(c: ModelConfig, position: number, scored = true): OpCounts {
  const ops = new OpCounts();
  const d = c.hidden_size, hd = c.head_dim, qd = c.num_attention_heads * hd, kvd = c.num_key_value_heads * hd, I = c.intermediate_size;
  const linear = (outF: number, inF: number, bias: boolean) => {
    ops.rows += 1;
    ops.mac_float += inF * outF;
    if (bias) ops.fp_add += outF;
    ops.weight_bytes += inF * outF * 4;
    ops.act_bytes += inF * 4;
  };
  const keys = position - firstPosition(position, c.sliding_window) + 1;
  for (let l = 0; l < c.num_hidden_layers; l++) {
    linear(qd, d, c.attention_bias);
    linear(kvd, d, c.attention_bias);
    linear(kvd, d, c.attention_bias);
    linear(d, qd, false);
    linear(I, d, false);
    linear(I, d, false);
    linear(d, I, false);
    // Float attention, per query head: q·k and p·v over the keys, softmax.
    const h = c.num_attention_heads;
    ops.mac_float += h * 2 * keys * hd;
    ops.fp_mult += h * 2 * keys;
    ops.fp_add += h * 2 * keys;
    ops.fp_special += h * (keys + 1);
    ops.act_bytes += h * 2 * keys * hd * 4;
    ops.rows += 1;
  }
  if (scored) linear(c.vocab_size, d, false);
  countOtherOps(c, ops, 1, scored ? 1 : 0);
  return ops;
}
