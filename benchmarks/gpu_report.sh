#!/usr/bin/env bash
# Every GPU figure the README asks for, in one run on a machine with a CUDA GPU:
#   1. the unit tests that need CUDA (the AMP path, no host sync per step): they skip on a CPU;
#   2. the throughput benchmark on the GPT-2 124M shape in bf16 (all eight loops, MFU);
#   3. notebook 03 executed end to end on the GPU, with its wall time. The executed copy is written to
#      OUT: the committed notebook (and a student's copy) is not touched.
# Each step runs even if one before it failed; the script exits non-zero if any did.
#
#   bash benchmarks/gpu_report.sh [OUT]        # OUT defaults to gpu-report/
#
# GPU time is often scarce, so the steps are sized to fit about ten minutes on a recent GPU. A smoke
# run on a CPU checks the script itself:
#   DEVICE=cpu STEPS=2 LOOPS=course,trl-packed NOTEBOOK=0 bash benchmarks/gpu_report.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-report}
device=${DEVICE:-cuda}
steps=${STEPS:-50}
mkdir -p "$out"
failed=0

step() {   # step NAME COMMAND...: run it, log to OUT/NAME.log, keep its exit status and wall time
    local name=$1; shift
    local t0=$SECONDS
    echo "== $name: $*"
    "$@" 2>&1 | tee "$out/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc in $((SECONDS - t0)) s" | tee -a "$out/summary.txt"
    [ "$rc" -eq 0 ] || failed=1
}

python -c "import torch; print('torch', torch.__version__, '| cuda', torch.cuda.is_available(),
      '|', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')" | tee "$out/summary.txt"

if [ "$device" = cuda ]; then
    # The two files that hold the CUDA tests, in this process (-o addopts= drops the xdist options, so an
    # older pytest-xdist on the GPU machine does not matter), so a CUDA failure shows its traceback.
    step cuda-tests python -m pytest -o addopts= -p no:cacheprovider -q tests/test_packing.py tests/test_train.py
fi
step benchmark-124m python benchmarks/sft_throughput.py --model gpt2-124m --device "$device" \
    --steps "$steps" ${LOOPS:+--loops "$LOOPS"} --json "$out/$device-gpt2-124m.json"
if [ "${NOTEBOOK:-1}" = 1 ]; then
    # COURSE_DEVICE unset: the notebook picks the GPU itself, as a student's run would.
    step notebook-03 env -u COURSE_DEVICE HF_HUB_OFFLINE=1 python -m nbconvert --to notebook --execute \
        --ExecutePreprocessor.timeout=1800 --output-dir "$out" --output 03_finetune_gpt2_on_$device \
        notebooks/03_finetune_gpt2.ipynb
fi
cat "$out/summary.txt"
exit $failed
