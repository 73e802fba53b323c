#!/usr/bin/env bash
# CPU-scale generation experiment on the 48 embedded photos at 64x64: a tiny-16 tokenizer,
# a small SiT trained on its tokens, and layouts from a bank versus from the layout generator,
# compared by SWD against the real images. Writes results/generation/swd.csv and
# results/generation/samples.png.
#
# Usage: experiments/generate/cpu-scale.sh TOKENIZER_WEIGHTS [WORK_DIR]
# The tokenizer comes from: gpstoken train --config experiments/train/tiny-16.yaml --data data/embedded --out RUN
set -euo pipefail
cd "$(dirname "$0")/../.."
tokenizer=$1
work=${2:-runs/generation-cpu16}
config=experiments/generate/cpu16.yaml
tokcfg=experiments/train/tiny-16.yaml
gpstoken="node bin/gpstoken.js"
mkdir -p "$work" results/generation
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# Real images as the tokenizer saw them: 64x64, shorter side scaled, centre crop. Two halves
# of them (24 images each) give the SWD noise floor between two real sets.
node --import tsx -e "
const { mkdir, readdir } = await import('node:fs/promises');
const { decodeImageFile } = await import('./ts/image/decode.ts');
const { preprocessImage } = await import('./ts/image/preprocess.ts');
const { writePng } = await import('./ts/image/write.ts');
const names = (await readdir('data/embedded')).filter((n) => n.endsWith('.jpg')).sort();
for (const dir of ['real', 'real-a', 'real-b']) await mkdir('$work/' + dir, { recursive: true });
for (const [i, n] of names.entries()) {
  const image = preprocessImage(await decodeImageFile('data/embedded/' + n), 64);
  const name = String(i).padStart(6, '0') + '.png';
  await writePng('$work/real/' + name, image);
  await writePng('$work/' + (i % 2 ? 'real-b/' : 'real-a/') + name, image);
}"

$gpstoken train-layout --bank "$work/bank.safetensors" --images data/embedded --tokens 16 --size 64 --minhw 4
$gpstoken train-layout --config $config --banks "$work/bank.safetensors" --out "$work/layout" --threads 1
$gpstoken train-generator --config $config --out "$work/generator" --images data/embedded --size 64 --minhw 4 \
  --tokenizer "$tokenizer" --tokenizer-config $tokcfg --threads 1

for source in bank model; do
  if [[ $source == bank ]]; then layouts=(--layouts "$work/bank.safetensors"); else layouts=(--layout-model "$work/layout/layout-generator.safetensors"); fi
  $gpstoken generate --config $config --weights "$work/generator/generator.safetensors" --tokenizer "$tokenizer" \
    --tokenizer-config $tokcfg "${layouts[@]}" --out "$work/gen-$source" --count 96 --batch 16 --seed 0 --threads 1
done

echo "layouts,fake,real,count_fake,count_real,swd,swd_64,swd_32,swd_16" > results/generation/swd.csv
row() {
  $gpstoken eval --real "$2" --fake "$3" --metrics swd --device cpu --json --quiet > "$work/eval-$1.json"
  node -e "
const r = JSON.parse(require('fs').readFileSync('$work/eval-$1.json', 'utf8'));
console.log(['$1', '$3', '$2', r.counts.fake, r.counts.real, r.metrics.swd, ...r.swdLevels].join(','));" >> results/generation/swd.csv
}
row bank "$work/real" "$work/gen-bank"
row generator "$work/real" "$work/gen-model"
row real-half "$work/real-a" "$work/real-b"

# Layout statistics: bank versus 96 layouts from the layout generator. Coverage is the summed
# region area 2.25 sigma_x sigma_y per layout, in units of the [-1, 1]^2 image.
python=$(scripts/find-python.sh)
OMP_NUM_THREADS=1 "$python" -c "
import torch
from py_kernels.layout import load_bank
from py_kernels.layout.generator import load_layout_generator
bank = torch.from_numpy(load_bank('$work/bank.safetensors').layouts)
model = load_layout_generator('$work/layout/layout-generator.safetensors')
generated = model.sample([0] * 96, torch.Generator().manual_seed(0))
print('layouts,count,' + ','.join(f'{s}_{c}' for s in ('mean', 'std') for c in ('sigma_x', 'sigma_y', 'rho', 'x', 'y')) + ',coverage')
for name, layouts in (('bank', bank), ('generator', generated)):
    flat = layouts.reshape(-1, 5)
    coverage = float((2.25 * layouts[..., 0] * layouts[..., 1]).sum(1).mean())
    values = [*flat.mean(0).tolist(), *flat.std(0).tolist(), coverage]
    print(f'{name},{len(layouts)},' + ','.join(f'{v:.4f}' for v in values))
" > results/generation/layout_stats.csv

# Sample grid: first 8 images of each source, one row per source (real, bank, generator).
node --import tsx -e "
const { decodeImageFile } = await import('./ts/image/decode.ts');
const { writePng } = await import('./ts/image/write.ts');
const { imageGrid } = await import('./ts/generate/grid.ts');
const images = [];
for (const dir of ['real', 'gen-bank', 'gen-model'])
  for (let i = 0; i < 8; i += 1) images.push(await decodeImageFile('$work/' + dir + '/' + String(i).padStart(6, '0') + '.png'));
await writePng('results/generation/samples.png', imageGrid(images, 8));"
cat results/generation/swd.csv results/generation/layout_stats.csv
