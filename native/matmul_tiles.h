/*
 * The blocked float matmul of matmul_f32.c, written once for every weight type it reads.
 *
 * Included once per weight type, with
 *   MM_W           the weight element type (float, uint16_t for raw bfloat16 words)
 *   MM_SFX         the suffix of the functions defined here (mm_chunk_<MM_SFX> is the entry point)
 *   MM_WLOAD(p)    FVL weights at p as a vf of float32
 *   MM_WSCALAR(p)  the weight at p as a float
 * defined by the includer, after vf, FVL, MR, NRMAX, KC, RBLK and mm_job. The widening loads are
 * exact, so every instantiation does the same float operations in the same order on the same
 * values: a bf16 matmul is bit-identical to the float matmul of its widened weights. No include
 * guard: each inclusion is a new instantiation; the parameters are undefined at the end.
 */
#define MM_CAT_(a, b) a##_##b
#define MM_CAT(a, b) MM_CAT_(a, b)
#define MM_(name) MM_CAT(name, MM_SFX)

/*
 * The R x O tile at x (rows, stride ldx), w (outputs, stride ldw) over inputs [k0, k1),
 * written (acc == 0) or added (acc == 1) into y (stride ldy). R, O are literal constants at
 * every call site, so after inlining the accumulators are registers. PF (a constant too): also
 * prefetch the O weight rows after these, at the same inputs, for the GEMV (see mm_range).
 */
static ALWAYS_INLINE void MM_(micro)(const int R, const int O, const int PF, const float *x, long ldx, const MM_W *w,
                                     long ldw, int k0, int k1, float *y, long ldy, int acc_into) {
  vf a[MR > 2 ? MR : 2][NRMAX];
  for (int r = 0; r < R; r++)
    for (int o = 0; o < O; o++) a[r][o] = vf_zero();
  const int kv = k0 + (k1 - k0) / FVL * FVL;
  for (int k = k0; k < kv; k += FVL) {
    vf xv[MR > 2 ? MR : 2];
    for (int r = 0; r < R; r++) xv[r] = vf_load(x + r * ldx + k);
    if (PF && (k * sizeof(MM_W)) % 64 < FVL * sizeof(MM_W)) /* once per 64-byte line, into L2 */
      for (int o = 0; o < O; o++) __builtin_prefetch(w + (O + o) * ldw + k, 0, 2);
    for (int o = 0; o < O; o++) {
      const vf wv = MM_WLOAD(w + o * ldw + k);
      for (int r = 0; r < R; r++) a[r][o] = vf_fma(xv[r], wv, a[r][o]);
    }
  }
  for (int r = 0; r < R; r++) {
    float out[NRMAX];
    int o = 0;
    for (; o + 4 <= O; o += 4) vf_sum4(a[r][o], a[r][o + 1], a[r][o + 2], a[r][o + 3], out + o);
    for (; o < O; o++) out[o] = vf_sum(a[r][o]);
    for (int k = kv; k < k1; k++) {
      const float xk = x[r * ldx + k];
      for (int oo = 0; oo < O; oo++) out[oo] += xk * MM_WSCALAR(w + oo * ldw + k);
    }
    float *yr = y + r * ldy;
    if (acc_into)
      for (int oo = 0; oo < O; oo++) yr[oo] += out[oo];
    else
      for (int oo = 0; oo < O; oo++) yr[oo] = out[oo];
  }
}

#define MM_DEF_TILE(R, O)                                                                                       \
  static void MM_CAT(MM_(tile), R##_##O)(const float *x, long ldx, const MM_W *w, long ldw, int k0, int k1, \
                                         float *y, long ldy, int acc_into) {                                   \
    MM_(micro)(R, O, 0, x, ldx, w, ldw, k0, k1, y, ldy, acc_into);                                             \
  }
MM_DEF_TILE(1, 1)
MM_DEF_TILE(1, 2)
MM_DEF_TILE(1, 3)
MM_DEF_TILE(1, 4)
MM_DEF_TILE(1, 8)
static void MM_CAT(MM_(tile), 1_8_pf)(const float *x, long ldx, const MM_W *w, long ldw, int k0, int k1, float *y,
                                      long ldy, int acc_into) {
  MM_(micro)(1, 8, 1, x, ldx, w, ldw, k0, k1, y, ldy, acc_into);
}
MM_DEF_TILE(2, 1)
MM_DEF_TILE(2, 2)
MM_DEF_TILE(2, 3)
MM_DEF_TILE(2, 4)
#if MR >= 3
MM_DEF_TILE(3, 1)
MM_DEF_TILE(3, 2)
MM_DEF_TILE(3, 3)
MM_DEF_TILE(3, 4)
#endif
#if MR >= 4
MM_DEF_TILE(4, 1)
MM_DEF_TILE(4, 2)
MM_DEF_TILE(4, 3)
MM_DEF_TILE(4, 4)
#endif

typedef void (*MM_(tile_fn))(const float *, long, const MM_W *, long, int, int, float *, long, int);
#define MM_TILE_ROW(R) \
  {0, MM_CAT(MM_(tile), R##_1), MM_CAT(MM_(tile), R##_2), MM_CAT(MM_(tile), R##_3), MM_CAT(MM_(tile), R##_4)}

/* [R][O] for O in 1..4 */
static const MM_(tile_fn) MM_(TILES)[5][5] = {
    {0},
    MM_TILE_ROW(1),
    MM_TILE_ROW(2),
#if MR >= 3
    MM_TILE_ROW(3),
#else
    {0},
#endif
#if MR >= 4
    MM_TILE_ROW(4),
#else
    {0},
#endif
};

static void MM_(mm_range)(const mm_job *J, int oa, int ob) {
  const long inF = J->inF, outF = J->outF;
  const MM_W *W = (const MM_W *)J->w;
  if (J->rows == 1) {
    /*
     * GEMV: 8 outputs per pass over x, no k slicing. Each tile prefetches the next one of the
     * chunk into L2 as it streams: the hardware prefetchers stop at 4 KB pages, one row of a 2048-wide
     * bf16 head, so every row's stream would start cold (lm_head of a 1.1B model on Zen 4, f32 and bf16:
     * 13-15 % faster on one thread, about 5 % on two). Not past the chunk: other threads read that.
     */
    int o = oa;
    for (; o + 16 <= ob; o += 8)
      MM_CAT(MM_(tile), 1_8_pf)(J->x, inF, W + o * inF, inF, 0, (int)inF, J->y + o, outF, 0);
    for (; o + 8 <= ob; o += 8) MM_CAT(MM_(tile), 1_8)(J->x, inF, W + o * inF, inF, 0, (int)inF, J->y + o, outF, 0);
    for (; o < ob; o += 4) {
      const int O = ob - o < 4 ? ob - o : 4;
      MM_(TILES)[1][O](J->x, inF, W + o * inF, inF, 0, (int)inF, J->y + o, outF, 0);
    }
    return;
  }
  if (J->rows < MR) {
    /* a few rows: one R x 4 tile per 4 outputs over the whole k range (each weight read once) */
    for (int o = oa; o < ob; o += 4) {
      const int O = ob - o < 4 ? ob - o : 4;
      MM_(TILES)[J->rows][O](J->x, inF, W + o * inF, inF, 0, (int)inF, J->y + o, outF, 0);
    }
    return;
  }
  for (int k0 = 0; k0 < inF; k0 += KC) {
    const int k1 = k0 + KC < inF ? k0 + KC : (int)inF;
    for (int r0 = 0; r0 < J->rows; r0 += RBLK) {
      const int r1 = r0 + RBLK < J->rows ? r0 + RBLK : J->rows;
      for (int o = oa; o < ob; o += 4) {
        const int O = ob - o < 4 ? ob - o : 4;
        const MM_W *w = W + o * inF;
        for (int r = r0; r < r1; r += MR) {
          const int R = r1 - r < MR ? r1 - r : MR;
          MM_(TILES)[R][O](J->x + r * inF, inF, w, inF, k0, k1, J->y + r * outF + o, outF, k0 > 0);
        }
      }
    }
  }
}

static void MM_(mm_chunk)(void *ctx, int k) {
  const mm_job *J = (const mm_job *)ctx;
  const int oa = k * J->chunk;
  const int ob = oa + J->chunk < J->outF ? oa + J->chunk : J->outF;
  MM_(mm_range)(J, oa, ob);
}

#undef MM_TILE_ROW
#undef MM_DEF_TILE
#undef MM_
#undef MM_CAT
#undef MM_CAT_
#undef MM_W
#undef MM_SFX
#undef MM_WLOAD
#undef MM_WSCALAR
