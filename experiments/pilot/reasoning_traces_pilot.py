"""Pilot: answer-only vs trace SFT. args: response lr steps seed [kinds]"""
import sys, json, time, os
import torch
torch.set_num_threads(1)
from course_utils.models import load_base
from course_utils.data import load_reasoning
from course_utils import reasoning
response, lr, steps, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
kinds = sys.argv[5].split(",") if len(sys.argv) > 5 and sys.argv[5] != "all" else None
replay = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
m, t = load_base("gpt2-tiny", device="cpu")
src = "answer" if response == "answer" else "trace"
train = load_reasoning("train", kinds, response=src)
evals = {"test": load_reasoning("test", kinds, response=src), "test_pairs": load_reasoning("test_pairs", kinds, response=src)}
# fit: the first 40 training questions of each kind
fit = []
for k in sorted({r["kind"] for r in train}):
    fit += [r for r in train if r["kind"] == k][:40]
evals["train_fit"] = fit
out = reasoning.run(m, t, response, train, evals, seed=seed, lr=lr, max_steps=steps, replay_share=replay)
out.pop("model")
out["kinds"] = kinds
print(json.dumps(out), flush=True)
with open("/tmp/pilot/results.jsonl", "a") as f:
    f.write(json.dumps(out) + "\n")
