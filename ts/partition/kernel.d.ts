// Types of the asm.js complexity kernel in kernel.js.

export interface PartitionKernelImports {
  /** Byte offsets of the row marks, the horizontal-pass rows and the grey map in the heap. */
  mark: number;
  horizontal: number;
  grey: number;
  /** numpy's histogram scale `bins / (high - low)`. */
  binScale: number;
}

export interface PartitionKernelExports {
  /** Horizontal resize pass of the rows the y tables read; rows already marked with `epoch` are skipped. */
  horizontal(x0: number, y0: number, width: number, epoch: number): void;
  /** Vertical pass, Sobel filters and histogram counts of the resized region. */
  sobel(): void;
}

export function PartitionKernel(stdlib: typeof globalThis, foreign: PartitionKernelImports, heap: ArrayBuffer): PartitionKernelExports;
