// One `gpstoken partition` task: read an image, preprocess, focus, partition, write outputs.
// It runs in the main thread or in a worker thread; failures come back as data so that one bad
// file does not stop the others.
import { decodeImageFile } from '../image/decode.ts';
import { ImageDecodeError } from '../image/types.ts';
import { loadGreyMask } from '../image/mask.ts';
import { preprocessImage } from '../image/preprocess.ts';
import { checkFocusBox, buildFocusBias, FocusSpecError, type FocusBox } from './focus.ts';
import { writePartitionFiles } from './outputs.ts';
import { partitionImage, type PartitionResult } from './partition.ts';

export interface PartitionJob {
  image: string;
  tokens: number;
  weight: number;
  minhw: number;
  /** Shorter side to this size and centre crop before partitioning. */
  size?: number;
  /** Parsed `--focus` boxes with the text the user typed, for error messages. */
  focus: { raw: string; box: FocusBox }[];
  focusMask?: string;
  /** Where `<stem>.png` and `<stem>.csv` go, if anywhere. */
  outDir?: string;
  stem: string;
}

/** `warnings`: lossy decoding rules applied to the image, printed by the command. */
export type PartitionJobOutcome =
  | { ok: true; image: string; result: PartitionResult; warnings: string[] }
  | { ok: false; image: string; error: string; usage: boolean; warnings: string[] };

/** Returns the error text without the image path, which the outcome carries separately. */
function failureReason(image: string, error: unknown): string {
  if (error instanceof ImageDecodeError) return error.reason;
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(`${image}: `) ? message.slice(image.length + 2) : message;
}

/** Runs one job; every error becomes `{ok: false}` with the reason (usage: a bad --focus value). */
export async function runPartitionJob(job: PartitionJob): Promise<PartitionJobOutcome> {
  const warnings: string[] = [];
  try {
    let img = await decodeImageFile(job.image, { onWarning: (message) => warnings.push(message) });
    if (job.size !== undefined) img = preprocessImage(img, job.size);
    for (const { raw, box } of job.focus) checkFocusBox(box, img.width, img.height, raw);
    const mask = job.focusMask === undefined ? undefined : await loadGreyMask(job.focusMask, img.width, img.height);
    const bias = buildFocusBias(
      img,
      job.focus.map(({ box }) => box),
      mask,
      job.weight,
    );
    const result = partitionImage(img, { tokens: job.tokens, weight: job.weight, minhw: job.minhw, bias });
    if (job.outDir !== undefined) await writePartitionFiles(img, result, job.outDir, job.stem);
    return { ok: true, image: job.image, result, warnings };
  } catch (error) {
    return { ok: false, image: job.image, error: failureReason(job.image, error), usage: error instanceof FocusSpecError, warnings };
  }
}
