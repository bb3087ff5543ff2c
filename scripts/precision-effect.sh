#!/usr/bin/env bash
# Regenerates the measurements of docs/precision.md: what tf32/bf16 GEMMs change in the activations and the records'
# top windows, against fp32, with `engine precision-effect` on the gpt2 preset (synthetic, seeded weights).
#
#   scripts/precision-effect.sh [--engine PATH] [--device cpu] [--out DIR]
#
# Two corpora: the bundled sample text (samples/sample.txt), and a larger text made here from this repository itself:
# every *.md and *.cs file of commit $CORPUS_COMMIT (default d51d74e, the engine before issue 14; fixed, so the corpus
# never changes), concatenated in `git ls-tree` order — English prose plus C# — cut into 64-token windows, the first
# $WINDOWS (default 1024) of them. Writes DIR/sample.json, DIR/repo.json (engine precision-effect --json) and prints
# both tables. Environment: CORPUS_COMMIT, WINDOWS, BATCH (windows per forward batch; default 8), LAYERS (default all),
# MODEL (real weights, e.g. weights/gpt2, instead of the synthetic gpt2 preset).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
engine="" device=cpu out="$repo/out/precision"
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) engine="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: scripts/precision-effect.sh [--engine PATH] [--device cpu] [--out DIR]" >&2; exit 2 ;;
  esac
done
commit="${CORPUS_COMMIT:-d51d74e}" windows="${WINDOWS:-1024}" batch="${BATCH:-8}" layers="${LAYERS:-all}"
if [ -z "$engine" ]; then
  engine="$repo/src/Engine.Cli/bin/Release/net10.0/engine"
  dotnet build "$repo/src/Engine.Cli" -c Release -nologo -v q >&2
fi
mkdir -p "$out"

corpus="$out/repo-$commit.txt"
if [ ! -s "$corpus" ]; then
  git -C "$repo" ls-tree -r --name-only "$commit" | grep -E '\.(md|cs)$' | while read -r f; do
    git -C "$repo" show "$commit:$f"; printf '\n\n'
  done > "$corpus.tmp"
  mv "$corpus.tmp" "$corpus"
fi
echo "corpus: $corpus ($(wc -c < "$corpus") bytes: *.md and *.cs of $commit)" >&2

run() {
  local name=$1; shift
  echo "== $name" >&2
  local model=(--preset gpt2)
  [ -n "${MODEL:-}" ] && model=(--model "$MODEL")
  "$engine" precision-effect "${model[@]}" --device "$device" --layers "$layers" --batch "$batch" --json "$out/$name.json" "$@"
}
run sample
run repo --corpus "$corpus" --max-windows "$windows"
