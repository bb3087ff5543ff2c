#!/usr/bin/env bash
# Submits `engine records` over N shards as a Slurm job array (records-array.sbatch) and `engine merge`
# (merge.sbatch) to run after every shard has succeeded; prints both job ids.
#
#   scripts/slurm/submit.sh MODEL CORPUS OUT N [sbatch options…] [-- engine records options…]
#
#   e.g. scripts/slurm/submit.sh weights/gpt2-xl data/webtext.bin out/xl 16 \
#          --gres=gpu:1 --cpus-per-task=8 --mem=64G --time=12:00:00 -- --device cuda --seed 0
#
# The sbatch options go to the array job; a later --array overrides the default 0-(N-1), so
# `… 16 --array=7 -- …` resubmits shard 7 alone (with a merge of all 16 after it). Environment:
#   ENGINE                the engine executable the jobs run (default: `engine` on PATH); jobs inherit the
#                         environment (sbatch's default --export=ALL)
#   MERGE_FORMAT          openai (default: OUT/records/{layer}/{neuron}.json) or packed
#   MERGE_SBATCH_OPTIONS  sbatch options for the merge job only (word-split), e.g. "--mem=32G --time=1:00:00"
# Partition, account and the like apply to both jobs through sbatch's own SBATCH_PARTITION, SBATCH_ACCOUNT, ….
# Outputs: OUT/shard-{i} (packed), OUT/records (merged), logs in OUT/logs/. If a shard fails, Slurm cancels the
# merge (--kill-on-invalid-dep) instead of leaving it pending; fix the cause and run the same command again:
# complete shards do nothing, interrupted ones resume from their checkpoint.
set -euo pipefail
usage() { sed -n '5p' "$0" | sed 's/^# *//' >&2; exit 2; }
[ $# -ge 4 ] || usage
model=$1 corpus=$2 out=$3 n=$4
shift 4
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: N must be a positive number of shards, not '$n'" >&2; exit 2; }
sbatch_options=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do sbatch_options+=("$1"); shift; done
[ $# -gt 0 ] && shift # the --
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v "${ENGINE:-engine}" >/dev/null || echo "submit.sh: warning: '${ENGINE:-engine}' is not runnable here; set ENGINE to the engine executable the nodes can run" >&2
mkdir -p "$out/logs"

array=$(sbatch --parsable --array="0-$((n - 1))" --output="$out/logs/records-%A_%a.log" "${sbatch_options[@]}" \
  "$here/records-array.sbatch" "$model" "$corpus" "$out" "$n" "$@")
array=${array%%;*} # --parsable prints id[;cluster]
echo "records array job $array: $n shards -> $out/shard-{i}, logs $out/logs/records-${array}_{i}.log"

# shellcheck disable=SC2086 # MERGE_SBATCH_OPTIONS is a list of options
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes --output="$out/logs/merge-%j.log" \
  ${MERGE_SBATCH_OPTIONS:-} "$here/merge.sbatch" "$out" "$n" --format "${MERGE_FORMAT:-openai}")
merge=${merge%%;*}
echo "merge job $merge: after every shard succeeds (afterok:$array) -> $out/records, log $out/logs/merge-$merge.log"
