{
  # The native kernel backend (src/kernels/native.ts), built from source at `npm install`.
  # Flags: -O3; -march=native by default (the build machine's ISA: AVX-512/AVX2/NEON are then
  # chosen by the compiler's feature macros, see native/simd.h); set SDLLM_MARCH to build for
  # another target (e.g. SDLLM_MARCH=x86-64-v3 for a portable AVX2 build). -ffp-contract=off:
  # no implicit FMA contraction (the spike kernels must round exactly like the TS reference);
  # -fwrapv: int32 overflow wraps, like Int32Array.
  "variables": {
    "sdllm_march%": "<!(node -p \"process.env.SDLLM_MARCH || 'native'\")"
  },
  "targets": [
    {
      "target_name": "sdllm_native",
      "sources": [
        "native/sdllm_native.c",
        "native/pool.c",
        "native/matmul_f32.c",
        "native/spike.c",
        "native/int_matmul.c",
        "native/attention.c",
        "native/spiking_attention.c",
        "native/spike4.c",
        "native/encode.c",
        "native/hadamard.c",
        "native/activation.c",
        "native/norm.c",
        "native/w4a16.c",
        "native/w4a16_blocks.c",
        "native/int4_matmul.c",
        "native/bandwidth.c"
      ],
      "cflags": ["-std=gnu11", "-O3", "-ffp-contract=off", "-fwrapv", "-fno-math-errno", "-fopenmp-simd", "-pthread"],
      "cflags!": ["-O2", "-ffast-math"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["target_arch=='x64' or target_arch=='ia32'", {
          "cflags": ["-march=<(sdllm_march)"],
          "xcode_settings": { "OTHER_CFLAGS": ["-march=<(sdllm_march)"] }
        }],
        ["target_arch=='arm64'", {
          "cflags": ["-mcpu=<(sdllm_march)"],
          "xcode_settings": { "OTHER_CFLAGS": ["-mcpu=<(sdllm_march)"] }
        }]
      ],
      "xcode_settings": {
        "GCC_OPTIMIZATION_LEVEL": "3",
        "OTHER_CFLAGS": ["-std=gnu11", "-ffp-contract=off", "-fwrapv"]
      }
    }
  ]
}
