// Region complexity of the entropy-driven partition as a WebAssembly SIMD kernel: resize to
// 64x64 (float32), 3x3 Sobel (float64), gradient-magnitude histogram and entropy. It gives the
// same bits as the asm.js kernel in ../kernel.js and the published Python. The tests compare
// both kernels on the golden cases and on random regions.
//
// Build: scripts/build-partition-wasm.sh (clang --target=wasm32 -msimd128). No libc: the host
// fills the resize tables and the entropy table, this file only runs the per-pixel loops.
//
// Exactness notes:
// - float32 steps are f32x4 lane operations: `v0 * w0 + v1 * w1` rounds each product and the
//   sum to float32, as OpenCV does. -ffp-contract=off keeps the compiler from fusing them.
// - float64 Sobel steps keep the reference's operation order, except that additions of +0.0
//   are dropped: they can only change the sign of a zero, and the magnitude squares it.
//   The derivative row `-left + 0 * centre + right` equals `right - left` for the finite,
//   non-negative resized values.
// - Histogram: numpy's bin (estimate, then move by one against the edges) is the exact bin of
//   the edges `i * 11 / 512 - 5.5`, which are all exact doubles. For a magnitude m >= 0 that
//   bin is `256 + k` with `11 k <= 512 m < 11 (k + 1)`; `512 m` and `11 k` are exact, so
//   an estimate of k from `m * (512 / 11)` is corrected by one with two exact comparisons.

#include <stdint.h>
#include <wasm_simd128.h>

#define SIDE 64
#define MAX_SLOTS 128
#define BINS 512
/* Per-lane histogram: 512 bins, then a bin for magnitudes above the range, then padding. */
#define HIST_STRIDE 520
#define MAX_COUNT (SIDE * SIDE)

#define EXPORT(name) __attribute__((export_name(name)))

/* Resize tables of the current region size, written by the host (layout in complexity.ts). */
struct Tables {
  int32_t x_index0[SIDE];
  int32_t x_index1[SIDE];
  float x_weight0[SIDE];
  float x_weight1[SIDE];
  /* Slots (positions in `rows`) of the two source rows of each output row. */
  int32_t y_slot0[SIDE];
  int32_t y_slot1[SIDE];
  float y_weight0[SIDE];
  float y_weight1[SIDE];
  /* Region-relative source rows the vertical pass reads, each once. */
  int32_t rows[MAX_SLOTS];
  int32_t row_count;
  /* 1 when the region is 64 wide: the horizontal pass is then the identity. */
  int32_t x_identity;
};

static struct Tables tables;
/* term[c] = p * log2(p + 1e-10) with p = c / (4096 + 1e-5), from the host's Math.log2. */
static double terms[MAX_COUNT + 1];
static int32_t counts[BINS];
static int32_t hist[4 * HIST_STRIDE] __attribute__((aligned(16)));
static float horizontal_rows[MAX_SLOTS * SIDE] __attribute__((aligned(16)));
static const float *row_pointers[MAX_SLOTS];
/* Ring of the last three row-filtered rows: derivative [1, 0, -1] and smoothing [1, 2, 1]. */
static double derivative_ring[3][SIDE] __attribute__((aligned(16)));
static double smoothing_ring[3][SIDE] __attribute__((aligned(16)));
/* One resized row in float64 with a replicated pixel at each end. */
static double padded_row[SIDE + 2] __attribute__((aligned(16)));

static float *grey;
static int32_t grey_width;

extern unsigned char __heap_base;

/*
 * Constants of the pixel loop, kept in memory and loaded once per region: a v128.const inside
 * the loop is rebuilt on every iteration by V8. Written by `init_constants`.
 */
enum { C_TWO, C_BIN_SCALE, C_BIN_WIDTH, C_MAGIC, C_TOP, C_LAST_BIN, C_COUNT };
v128_t loop_constants[C_COUNT];

static void init_constants(void) {
  loop_constants[C_TWO] = wasm_f64x2_splat(2.0);
  loop_constants[C_BIN_SCALE] = wasm_f64x2_splat(512.0 / 11.0);
  /* Bin width 11 / 512 is an exact double, so `k * width` is the exact edge of bin 256 + k. */
  loop_constants[C_BIN_WIDTH] = wasm_f64x2_splat(11.0 / 512.0);
  /* Adding 2^52 to a small non-negative integer leaves the integer in the low 32 bits. */
  loop_constants[C_MAGIC] = wasm_f64x2_splat(4503599627370496.0);
  loop_constants[C_TOP] = wasm_f64x2_splat(5.5);
  loop_constants[C_LAST_BIN] = wasm_i32x4_splat(256);
}

EXPORT("tables") struct Tables *tables_address(void) { return &tables; }
EXPORT("terms") double *terms_address(void) { return terms; }
EXPORT("counts") int32_t *counts_address(void) { return counts; }

/* Reserves a width x height float32 grey map after the static data; returns its address or 0. */
EXPORT("allocateGrey") float *allocate_grey(int32_t width, int32_t height) {
  uintptr_t start = ((uintptr_t)&__heap_base + 15) & ~(uintptr_t)15;
  uintptr_t end = start + (uintptr_t)width * (uintptr_t)height * 4;
  uintptr_t have = __builtin_wasm_memory_size(0) * 65536;
  if (end > have) {
    uintptr_t pages = (end - have + 65535) / 65536;
    if (__builtin_wasm_memory_grow(0, pages) == (uintptr_t)-1) return 0;
  }
  init_constants();
  grey = (float *)start;
  grey_width = width;
  return grey;
}

static inline v128_t gather(const float *row, const int32_t *index) {
  v128_t v = wasm_v128_load32_zero(row + index[0]);
  v = wasm_v128_load32_lane(row + index[1], v, 1);
  v = wasm_v128_load32_lane(row + index[2], v, 2);
  return wasm_v128_load32_lane(row + index[3], v, 3);
}

/* Horizontal resize pass (float32) of every source row the vertical pass reads. */
static void horizontal_pass(int32_t x0, int32_t y0) {
  const float *region = grey + (intptr_t)y0 * grey_width + x0;
  for (int32_t i = 0; i < tables.row_count; i += 1) {
    const float *source = region + (intptr_t)tables.rows[i] * grey_width;
    if (tables.x_identity) {
      row_pointers[i] = source;
      continue;
    }
    float *out = horizontal_rows + i * SIDE;
    for (int32_t x = 0; x < SIDE; x += 4) {
      v128_t a = wasm_f32x4_mul(gather(source, tables.x_index0 + x), wasm_v128_load(tables.x_weight0 + x));
      v128_t b = wasm_f32x4_mul(gather(source, tables.x_index1 + x), wasm_v128_load(tables.x_weight1 + x));
      wasm_v128_store(out + x, wasm_f32x4_add(a, b));
    }
    row_pointers[i] = out;
  }
}

/* Vertical resize pass of output row d (float32), then the Sobel row filters (float64). */
static void filter_row(int32_t d) {
  const float *top = row_pointers[tables.y_slot0[d]];
  const float *bottom = row_pointers[tables.y_slot1[d]];
  v128_t w0 = wasm_f32x4_splat(tables.y_weight0[d]);
  v128_t w1 = wasm_f32x4_splat(tables.y_weight1[d]);
  for (int32_t x = 0; x < SIDE; x += 4) {
    v128_t r = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(top + x), w0), wasm_f32x4_mul(wasm_v128_load(bottom + x), w1));
    wasm_v128_store(padded_row + 1 + x, wasm_f64x2_promote_low_f32x4(r));
    wasm_v128_store(padded_row + 3 + x, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(r, r, 2, 3, 0, 1)));
  }
  padded_row[0] = padded_row[1];
  padded_row[SIDE + 1] = padded_row[SIDE];

  double *derivative = derivative_ring[d % 3];
  double *smoothing = smoothing_ring[d % 3];
  v128_t two = wasm_f64x2_splat(2.0);
  for (int32_t x = 0; x < SIDE; x += 2) {
    v128_t left = wasm_v128_load(padded_row + x);
    v128_t centre = wasm_v128_load(padded_row + x + 1);
    v128_t right = wasm_v128_load(padded_row + x + 2);
    wasm_v128_store(derivative + x, wasm_f64x2_sub(right, left));
    wasm_v128_store(smoothing + x, wasm_f64x2_add(wasm_f64x2_add(left, wasm_f64x2_mul(two, centre)), right));
  }
}

/*
 * Bin minus 256 of two magnitudes, in the low 32 bits of each 64-bit lane: k is estimated as
 * floor(m * 512 / 11), then moved down when its left edge is above m and up when the next edge
 * is at or below m (the comparisons give -1 or 0). m == 5.5 then lands on 256 and moves to 255,
 * the last bin, which owns the top edge.
 */
static inline v128_t bin_offsets(v128_t m, v128_t bin_scale, v128_t bin_width, v128_t magic, v128_t top) {
  v128_t k = wasm_f64x2_floor(wasm_f64x2_mul(m, bin_scale));
  v128_t left_edge = wasm_f64x2_mul(k, bin_width);
  v128_t above_left = wasm_f64x2_gt(left_edge, m);
  v128_t reaches_right = wasm_f64x2_le(wasm_f64x2_add(left_edge, bin_width), m);
  v128_t bits = wasm_i64x2_add(wasm_f64x2_add(k, magic), above_left);
  return wasm_i64x2_add(wasm_i64x2_sub(bits, reaches_right), wasm_f64x2_eq(m, top));
}

static inline v128_t magnitudes(const double *da, const double *dc, const double *db, const double *sa, const double *sb, v128_t two) {
  v128_t gx = wasm_f64x2_add(wasm_f64x2_mul(two, wasm_v128_load(dc)), wasm_f64x2_add(wasm_v128_load(db), wasm_v128_load(da)));
  v128_t gy = wasm_f64x2_sub(wasm_v128_load(sb), wasm_v128_load(sa));
  return wasm_f64x2_sqrt(wasm_f64x2_add(wasm_f64x2_mul(gx, gx), wasm_f64x2_mul(gy, gy)));
}

/* Column filters, magnitudes and the four per-lane histograms of the resized region. */
static void sobel_histogram(void) {
  for (int32_t i = 0; i < 4 * HIST_STRIDE; i += 4) wasm_v128_store(hist + i, wasm_i32x4_splat(0));
  const v128_t two = loop_constants[C_TWO];
  const v128_t bin_scale = loop_constants[C_BIN_SCALE];
  const v128_t bin_width = loop_constants[C_BIN_WIDTH];
  const v128_t magic = loop_constants[C_MAGIC];
  const v128_t top = loop_constants[C_TOP];
  /* Magnitudes above 5.5 have k >= 256 (m == 5.5 was moved to 255): bin 512 collects them. */
  const v128_t last = loop_constants[C_LAST_BIN];
  int32_t *lane0 = hist + 256, *lane1 = hist + HIST_STRIDE + 256;
  int32_t *lane2 = hist + 2 * HIST_STRIDE + 256, *lane3 = hist + 3 * HIST_STRIDE + 256;

  filter_row(0);
  for (int32_t y = 0; y < SIDE; y += 1) {
    if (y < SIDE - 1) filter_row(y + 1);
    int32_t above = (y > 0 ? y - 1 : 0) % 3;
    int32_t centre = y % 3;
    int32_t below = (y < SIDE - 1 ? y + 1 : SIDE - 1) % 3;
    const double *da = derivative_ring[above], *dc = derivative_ring[centre], *db = derivative_ring[below];
    const double *sa = smoothing_ring[above], *sb = smoothing_ring[below];
    for (int32_t x = 0; x < SIDE; x += 4) {
      v128_t k01 = bin_offsets(magnitudes(da + x, dc + x, db + x, sa + x, sb + x, two), bin_scale, bin_width, magic, top);
      v128_t k23 = bin_offsets(magnitudes(da + x + 2, dc + x + 2, db + x + 2, sa + x + 2, sb + x + 2, two), bin_scale, bin_width, magic, top);
      v128_t k = wasm_i32x4_min(wasm_i32x4_shuffle(k01, k23, 0, 2, 4, 6), last);
      /* NOTE: some instances run this loop about 1.7x slower, depending on where their memory
       * lies; dropping these increments removed the effect in a test (docs/partition-speed.md). */
      lane0[wasm_i32x4_extract_lane(k, 0)] += 1;
      lane1[wasm_i32x4_extract_lane(k, 1)] += 1;
      lane2[wasm_i32x4_extract_lane(k, 2)] += 1;
      lane3[wasm_i32x4_extract_lane(k, 3)] += 1;
    }
  }

  for (int32_t i = 0; i < BINS; i += 4) {
    v128_t sum = wasm_i32x4_add(wasm_i32x4_add(wasm_v128_load(hist + i), wasm_v128_load(hist + HIST_STRIDE + i)),
                                wasm_i32x4_add(wasm_v128_load(hist + 2 * HIST_STRIDE + i), wasm_v128_load(hist + 3 * HIST_STRIDE + i)));
    wasm_v128_store(counts + i, sum);
  }
}

/* numpy's pairwise sum of n <= 128 terms: 8 interleaved accumulators, then a fixed tree. */
static double block_sum(const int32_t *c, int32_t n) {
  double r[8];
  for (int32_t j = 0; j < 8; j += 1) r[j] = terms[c[j]];
  for (int32_t i = 8; i < n; i += 8) {
    for (int32_t j = 0; j < 8; j += 1) r[j] += terms[c[i + j]];
  }
  return ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
}

/*
 * Scores the region whose top-left pixel is (x0, y0) with the tables in `tables`: fills
 * `counts` and returns the entropy in bits, or -1 when some magnitudes fell outside the
 * histogram (the total is then not 4096 and the host computes the entropy from `counts`).
 */
EXPORT("regionEntropy") double region_entropy(int32_t x0, int32_t y0) {
  horizontal_pass(x0, y0);
  sobel_histogram();
  int32_t total = 0;
  for (int32_t i = 0; i < BINS; i += 1) total += counts[i];
  if (total != MAX_COUNT) return -1.0;
  /* 512 terms: numpy splits into 256 + 256, each into two blocks of 128. */
  double low = block_sum(counts, 128) + block_sum(counts + 128, 128);
  double high = block_sum(counts + 256, 128) + block_sum(counts + 384, 128);
  return -(0.0 + (low + high));
}
