// The inner loops of the region complexity as an asm.js module: the fallback where the
// WebAssembly SIMD kernel (wasm/kernel.c) cannot load, and the second implementation the tests
// compare it with. V8 validates asm.js and compiles it to WebAssembly: a one-thread 128-token
// partition went from about 36 to 19 ms of CPU with it (2-core AMD EPYC, Node 20.20,
// bench/partition.bench.ts); the SIMD kernel takes about a third of that.
// Results are bit-identical to the plain version: float32 steps use `fround` (f32 operations),
// float64 steps are IEEE double operations in the same order.
//
// The module is written in plain JavaScript (a .js file, described by kernel.d.ts) because the
// asm.js type rules (`x | 0`, `+x`, `fround(x)` coercions) are not expressible in TypeScript.
//
// Heap layout in bytes (also in complexity.ts, HEAP_LAYOUT):
//   0       counts       512 x int32, the gradient-magnitude histogram
//   2048    x index0     64 x int32    2304 x index1    2560 x weight0 (f32)   2816 x weight1
//   3072    y index0     64 x int32    3328 y index1    3584 y weight0 (f32)   3840 y weight1
//   8192    bin edges    513 x float64
//   16384   resized row  64 x float32
//   16640   ring of row-filtered derivative rows, 3 x 64 x float64
//   18176   ring of row-filtered smoothing rows, 3 x 64 x float64
//   20480   first free byte: row marks (height x int32), then the horizontal pass
//           (height x 64 x float32), then the grey map (height x width x float32); their
//           offsets arrive as foreign imports.

export function PartitionKernel(stdlib, foreign, heap) {
  'use asm';

  var fround = stdlib.Math.fround;
  var sqrt = stdlib.Math.sqrt;
  var imul = stdlib.Math.imul;
  var I32 = new stdlib.Int32Array(heap);
  var F32 = new stdlib.Float32Array(heap);
  var F64 = new stdlib.Float64Array(heap);
  var MARK = foreign.mark | 0;
  var HBUF = foreign.horizontal | 0;
  var GREY = foreign.grey | 0;
  var BIN_SCALE = +foreign.binScale;

  // Horizontal resize pass of the source rows listed in the y tables, each once per epoch.
  function horizontal(x0, y0, width, epoch) {
    x0 = x0 | 0;
    y0 = y0 | 0;
    width = width | 0;
    epoch = epoch | 0;
    var k = 0;
    var row = 0;
    var base = 0;
    var out = 0;
    var dx = 0;
    var v0 = fround(0);
    var v1 = fround(0);
    for (k = 0; (k | 0) < 128; k = (k + 1) | 0) {
      if ((k | 0) < 64) row = I32[(3072 + (k << 2)) >> 2] | 0;
      else row = I32[(3328 + ((k - 64) << 2)) >> 2] | 0;
      if ((I32[(MARK + (row << 2)) >> 2] | 0) == (epoch | 0)) continue;
      I32[(MARK + (row << 2)) >> 2] = epoch;
      base = (GREY + ((imul((y0 + row) | 0, width) + x0) << 2)) | 0;
      out = (HBUF + (row << 8)) | 0;
      for (dx = 0; (dx | 0) < 64; dx = (dx + 1) | 0) {
        v0 = fround(fround(F32[(base + (I32[(2048 + (dx << 2)) >> 2] << 2)) >> 2]) * fround(F32[(2560 + (dx << 2)) >> 2]));
        v1 = fround(fround(F32[(base + (I32[(2304 + (dx << 2)) >> 2] << 2)) >> 2]) * fround(F32[(2816 + (dx << 2)) >> 2]));
        F32[(out + (dx << 2)) >> 2] = fround(v0 + v1);
      }
    }
  }

  // Vertical resize pass of output row d (float32), fused with the Sobel row filters (float64)
  // into ring slot d % 3.
  function filterRow(d) {
    d = d | 0;
    var top = 0;
    var bottom = 0;
    var w0 = fround(0);
    var w1 = fround(0);
    var x = 0;
    var slot = 0;
    var left = 0.0;
    var centre = 0.0;
    var right = 0.0;
    top = (HBUF + (I32[(3072 + (d << 2)) >> 2] << 8)) | 0;
    bottom = (HBUF + (I32[(3328 + (d << 2)) >> 2] << 8)) | 0;
    w0 = fround(F32[(3584 + (d << 2)) >> 2]);
    w1 = fround(F32[(3840 + (d << 2)) >> 2]);
    slot = (((d | 0) % 3) | 0) << 9;
    left = +fround(fround(fround(F32[top >> 2]) * w0) + fround(fround(F32[bottom >> 2]) * w1));
    centre = left;
    for (x = 0; (x | 0) < 63; x = (x + 1) | 0) {
      right = +fround(fround(fround(F32[(top + ((x + 1) << 2)) >> 2]) * w0) + fround(fround(F32[(bottom + ((x + 1) << 2)) >> 2]) * w1));
      F64[(16640 + slot + (x << 3)) >> 3] = -left + 0.0 * centre + right;
      F64[(18176 + slot + (x << 3)) >> 3] = left + 2.0 * centre + right;
      left = centre;
      centre = right;
    }
    // Last column: the replicated border makes the right neighbour the pixel itself.
    F64[(16640 + slot + 504) >> 3] = -left + 0.0 * centre + centre;
    F64[(18176 + slot + 504) >> 3] = left + 2.0 * centre + centre;
  }

  // numpy's bin for a magnitude near a bin edge: compare with the exact edges.
  function exactBin(m, bin) {
    m = +m;
    bin = bin | 0;
    if ((bin | 0) == 512) bin = 511;
    if (m < +F64[(8192 + (bin << 3)) >> 3]) {
      bin = (bin - 1) | 0;
    } else {
      if ((m >= +F64[(8192 + ((bin + 1) << 3)) >> 3]) & ((bin | 0) != 511)) bin = (bin + 1) | 0;
    }
    return bin | 0;
  }

  // Sobel column filters, gradient magnitudes and the histogram of the resized region.
  function sobel() {
    var y = 0;
    var x = 0;
    var above = 0;
    var centre = 0;
    var below = 0;
    var p = 0;
    var bin = 0;
    var gx = 0.0;
    var gy = 0.0;
    var m = 0.0;
    var t = 0.0;
    var fraction = 0.0;
    for (p = 0; (p | 0) < 2048; p = (p + 4) | 0) I32[p >> 2] = 0;

    filterRow(0);
    for (y = 0; (y | 0) < 64; y = (y + 1) | 0) {
      if ((y | 0) < 63) filterRow((y + 1) | 0);
      above = ((((y | 0) > 0 ? (y - 1) | 0 : 0) | 0) % 3 | 0) << 9;
      centre = (((y | 0) % 3) | 0) << 9;
      below = ((((y | 0) < 63 ? (y + 1) | 0 : 63) | 0) % 3 | 0) << 9;

      for (x = 0; (x | 0) < 64; x = (x + 1) | 0) {
        p = x << 3;
        gx = 2.0 * +F64[(16640 + centre + p) >> 3] + 0.0 + (+F64[(16640 + below + p) >> 3] + +F64[(16640 + above + p) >> 3]);
        gy = 0.0 + (+F64[(18176 + below + p) >> 3] - +F64[(18176 + above + p) >> 3]);
        m = +sqrt(gx * gx + gy * gy);

        if (m == 0.0) {
          bin = 256;
        } else {
          if (!(m <= 5.5)) continue;
          t = (m + 5.5) * BIN_SCALE;
          bin = ~~t;
          fraction = t - +(bin | 0);
          if ((fraction <= 1.0e-9) | (fraction >= 0.999999999)) bin = exactBin(m, bin) | 0;
        }
        I32[(bin << 2) >> 2] = ((I32[(bin << 2) >> 2] | 0) + 1) | 0;
      }
    }
  }

  return { horizontal: horizontal, sobel: sobel };
}
