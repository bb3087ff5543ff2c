# ptx: the ptxas report (registers, spills, shared memory, blocks/SM, the GEMMs' SASS) with the box's own CUDA
# toolkit, from PTX the CUDA accelerator compiled (offline PTX when CUDA is unusable). Known offline already
# (docs/ptx-report.md, ptxas 11.8), hence last. Without ptxas the PTX is still generated (engine side checked).
STEP_NEEDS=none
STEP_LIMIT=90
STEP_MIN=30
STEP_ESTIMATE=40

step() {
  local ptxas cuobjdump
  ptxas=$(command -v ptxas || ls /usr/local/cuda/bin/ptxas 2>/dev/null)
  cuobjdump=$(command -v cuobjdump || ls /usr/local/cuda/bin/cuobjdump 2>/dev/null)
  if [ "$DRY" = 1 ] || [ -z "$ptxas" ]; then
    rm -rf "$WORK/ptx"
    engine ptx --out "$WORK/ptx" || fail "engine ptx failed"
    echo "$(ls "$WORK/ptx"/*.ptx | wc -l) kernels compiled to PTX"
    [ -n "$ptxas" ] || skip "no ptxas on this machine: the PTX was generated, not assembled"
    return 0
  fi
  local dev=()
  [ -f "$CUDA_BROKEN" ] || dev=(--device cuda)
  bash "$SRC/scripts/ptx-report.sh" --engine "$B/engine" --ptxas "$ptxas" ${cuobjdump:+--cuobjdump "$cuobjdump"} "${dev[@]}" \
    --out "$OUT/ptx-report.md"
}
