#!/usr/bin/env bash
# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
#
# One short session on a single GPU: the checks that need one, then the shipped
# ShapesMotion assets trained by the documented commands (assets/README.md).
#
#   OUT=DIR W=WORKDIR bash benchmarks/gpu_session.sh
#   OUT=/tmp/o W=/tmp/w PY=.venv/bin/python MFU_PRESET=tiny SEQ=512 MATMUL=1024 TOK_STEPS=20 \
#     MFU2_PRESET=tiny SEQ_1B=512 SAMPLE_PRESET=tiny SAMPLE_H=64 SAMPLE_W=64 \
#     TOK_CLIPS=256 T2V_STEPS=10 T2V_CLIPS=128 TLIMIT=5 bash benchmarks/gpu_session.sh  # CPU dry run
#
# 1. benchmarks/attention_paths.py: the cudnn path against xla / blockwise (errors, ms);
# 2. benchmarks/mfu.py: the 0.5b preset's train step in bf16 (cudnn attention; dense
#    if the cudnn step fails), then the 1b preset at its 256p bucket (13,312 tokens) with
#    model.attention=auto (issue 18's goal: >= 50% MFU against the same run's matmul peak);
# 2b. benchmarks/sampling.py: the 1b preset at 256p (448x256 px), KV-cached AR-DF vs
#    next-token decoding (the paper's bandwidth-bound regime), SAMPLE_FRAMES latent frames;
# 3. the FSQ visual tokenizer trained on ShapesMotion at batch 64 (the FSQ route for the
#    built-in world; the demo ships an exact fitted codebook)
#    and constant lr for a fixed wall time, then the generation ceiling
#    (benchmarks/tokenizer_upper_bound.py) of its last two checkpoints and the shipped one;
# 4. the demo's t2v stage from scratch on the best of the three at batch 64 (no
#    evaluation) and lumos_jax.export of its last checkpoint.
# Every stage runs under its own time limit (TLIMIT multiplies them) and leaves what it
# has in $OUT: report.txt (figures), logs.tgz, tokenizer.tgz, t2v.tgz. The t2v stage gets
# what is left of BUDGET seconds (less 30 s for the export and the archives).
set -u
OUT=${OUT:?set OUT}
W=${W:-/tmp/lumos_gpu}
PY=${PY:-python3}
SEQ=${SEQ:-4096}; MATMUL=${MATMUL:-8192}; TLIMIT=${TLIMIT:-1}
TOK_STEPS=${TOK_STEPS:-100000}; TOK_CLIPS=${TOK_CLIPS:-16384}; TOK_EVERY=${TOK_EVERY:-250}
T2V_STEPS=${T2V_STEPS:-2000}; T2V_CLIPS=${T2V_CLIPS:-8192}
BUDGET=${BUDGET:-570}  # seconds for the whole script: the t2v stage gets what is left
T0=$(date +%s)
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$W"
cd "$(dirname "$0")/.."
R="$OUT/report.txt"; L="$W/logs"; mkdir -p "$L"
stage() { echo; echo "=== $* ($(date +%T))" | tee -a "$R"; }
quiet() { grep -v "^[WI][0-9]\{4\} " ; }  # absl INFO/WARNING lines stay in the logs
lim() { echo $(( $1 * TLIMIT )); }

stage environment
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 \
  | head -3 | tee -a "$R"
$PY -c "import jax, flax, optax, grain; print('jax', jax.__version__, 'flax', flax.__version__, \
'optax', optax.__version__, jax.devices())" 2>&1 | tail -1 | tee -a "$R"

stage "1/4 attention paths"
timeout "$(lim 75)" $PY benchmarks/attention_paths.py --seq="$SEQ" --batch=4 --heads=16 \
  --kv_heads=8 --head_dim=64 --reps=20 2>&1 | quiet | tail -8 | tee -a "$R"

stage "2/4 MFU, ${MFU_PRESET:-0.5b} preset"
for a in cudnn dense; do
  timeout "$(lim 90)" $PY benchmarks/mfu.py --preset="${MFU_PRESET:-0.5b}" --seq="$SEQ" \
    --batch=8 --dtype=bfloat16 --attention=$a --matmul="$MATMUL" --steps=5 \
    > "$L/mfu_$a.txt" 2>&1
  ok=$?
  quiet < "$L/mfu_$a.txt" | tail -12 | tee -a "$R"
  [ $ok = 0 ] && break
done

stage "2a/4 MFU, ${MFU2_PRESET:-1b} preset at 256p, attention auto"
timeout "$(lim 150)" $PY benchmarks/mfu.py --preset="${MFU2_PRESET:-1b}" --seq="${SEQ_1B:-13312}" \
  --batch="${BATCH_1B:-2}" --dtype=bfloat16 --attention=auto --remat=full \
  --matmul="$MATMUL" --steps=5 > "$L/mfu_1b.txt" 2>&1
quiet < "$L/mfu_1b.txt" | tail -12 | tee -a "$R"

stage "2b/4 sampling, ${SAMPLE_PRESET:-1b} preset: cached AR-DF vs next-token"
timeout "$(lim 150)" $PY benchmarks/sampling.py --preset="${SAMPLE_PRESET:-1b}" \
  --height="${SAMPLE_H:-256}" --width="${SAMPLE_W:-448}" --frames="${SAMPLE_FRAMES:-3}" \
  --steps=50 --modes=ardf_cache,next_token > "$L/sampling.txt" 2>&1
quiet < "$L/sampling.txt" | tail -8 | tee -a "$R"

stage "3/4 FSQ visual tokenizer on ShapesMotion"
timeout "$(lim 170)" $PY -m lumos_jax.tokenizer.train --config=configs/tokenizer.py:shapes \
  --workdir="$W/tok" --config.batch_size=64 \
  --config.steps="$TOK_STEPS" --config.lr=5e-4 --config.lr_schedule=constant \
  --config.warmup_steps=100 --config.data.num_train_clips="$TOK_CLIPS" \
  --config.data.num_eval_clips=64 --config.ckpt_every="$TOK_EVERY" \
  --config.eval_every="$TOK_EVERY" --config.log_every=50 --config.keep_ckpts=3 \
  > "$L/tokenizer.txt" 2>&1
grep "eval/psnr\|Error" "$L/tokenizer.txt" | tail -4 | tee -a "$R"
grep "steps_per_s" "$L/tokenizer.txt" | tail -1 | tee -a "$R"
best=""; best_score=-1
# Candidates: the run's last two checkpoints; the detector picks.
for c in $(ls -d "$W"/tok/checkpoints/[0-9]* 2>/dev/null | sort -V | tail -2); do
  [ -d "$c/params" ] || continue
  line=$(timeout "$(lim 40)" $PY benchmarks/tokenizer_upper_bound.py --tokenizer_ckpt="$c" \
    --num=48 2>&1 | grep '^{' | tail -1)
  echo "$c $line" | tee -a "$R"
  score=$($PY -c "import json,sys; print(json.loads(sys.argv[1])['detector_exact'])" \
    "$line" 2>/dev/null || echo -1)
  if $PY -c "import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))" \
      "$score" "$best_score"; then best=$c; best_score=$score; fi
done
echo "best tokenizer checkpoint: ${best:-none} ($best_score)" | tee -a "$R"
if [ -n "$best" ]; then
  mkdir -p "$W/tok_best/checkpoints"
  cp -r "$best" "$W/tok_best/checkpoints/"
  rm -rf "$W/tok_best/checkpoints/"*/opt_state
  cp "$(dirname "$(dirname "$best")")"/{tokenizer_config.json,metrics.jsonl} "$W/tok_best/"
  (cd "$W" && tar czf "$OUT/tokenizer.tgz" tok_best)
fi

stage "4/4 t2v tiny from scratch on the shipped codebook (the demo's tokens)"
if true; then
  left=$(( BUDGET - ($(date +%s) - T0) - 30 ))
  echo "t2v stage: ${left} s" | tee -a "$R"
  timeout "$left" $PY -m lumos_jax.demo --workdir="$W/demo" \
    --tokenizer_ckpt=assets/shapes_codebook --init_from= --train_steps="$T2V_STEPS" --batch_size=64 \
    --num_train="$T2V_CLIPS" --noevaluate > "$L/t2v.txt" 2>&1
  grep "records\|steps_per_sec\|train/loss\|eval/loss\|Error" "$L/t2v.txt" | tail -6 \
    | cut -c1-300 | tee -a "$R"
  last=$(ls -d "$W"/demo/t2v/checkpoints/[0-9]* 2>/dev/null | sort -V | tail -1)
  if [ -n "$last" ]; then
    $PY -m lumos_jax.export --checkpoint="$last" --out="$W/t2v_export" 2>&1 | tail -1 \
      | cut -c1-200 | tee -a "$R"
    cp "$W/demo/tokens/tokenizer.json" "$W/demo/t2v/metrics.jsonl" "$W/t2v_export/"
    (cd "$W" && tar czf "$OUT/t2v.tgz" t2v_export)
  fi
fi
stage done
(cd "$W" && tar czf "$OUT/logs.tgz" logs)
ls -la "$OUT"
