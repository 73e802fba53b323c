// The entropy-driven partition: public API.
export { ComplexityScorer, greyForComplexity, RESIZED_SIDE, HISTOGRAM_BINS } from './complexity.ts';
export {
  DEFAULT_MINHW,
  DEFAULT_WEIGHT,
  PATCH_SIZE,
  PartitionSizeError,
  TokenBudgetError,
  gridPartition,
  partitionImage,
  tileGrid,
  type PartitionLayout,
  type PartitionOptions,
  type PartitionResult,
} from './partition.ts';
export { DEFAULT_FOCUS_GAIN, FocusSpecError, buildFocusBias, checkFocusBox, defaultFocusValue, parseFocusBox, type FocusBox } from './focus.ts';
export { formatFloat32, partitionJson } from './format.ts';
export {
  DEMO_TOKENS,
  SUMMARY_CSV_COLUMNS,
  TOKEN_CSV_COLUMNS,
  imageLayout,
  summarisePartition,
  tokensCsv,
  uniqueStems,
  writePartitionDemo,
  writePartitionFiles,
  type PartitionSummary,
} from './outputs.ts';
