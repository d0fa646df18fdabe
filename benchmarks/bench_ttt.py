"""Batch TTT on a GPU: step time, peak memory, tokens/s and loss of the local
peft trainer, on current KernelBench L1 tasks.

The model is a small Llama built from a config (random weights) with the
embedded model's tokenizer, so it runs on a machine without internet or the
embedded model: it writes no correct kernels, so the rewards are injected
(a fixed pseudo-random half of the samples is "correct", with made-up
speedups). This is a mechanics and throughput check of the training path
(sampling with raw logprobs, the importance-sampling update of a rank-16
LoRA adapter, checkpoints), not a result. It needs neither the store nor
the evaluator (a bare GPU machine has no sqlite-utils).

Each step of the table: the update on the previous step's samples (none at
step 0), its checkpoint, then K samples per task. The last line times one
more update with every sample repeating its prompt (the plain way) against
the trainer's shared-prompt update, in the same process.

  1. Here, where the embedded model is installed: export its tokenizer (about 3.5 MB):
       python benchmarks/bench_ttt.py export-tokenizer --out .gpu_data/smollm2-tokenizer
  2. On the GPU machine, from the repository root:
       . benchmarks/device_env.sh && python3 benchmarks/bench_ttt.py run \\
           --tokenizer .gpu_data/smollm2-tokenizer --kernelbench PATH/KernelBench \\
           --tasks L1/19,L1/23,L1/4,L1/12,L1/36 --out "$OUT"
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def export_tokenizer(args) -> int:
    from transformers import AutoTokenizer

    from sgs.core.backends.hf import cache_dir, resolve_model

    source, gguf = resolve_model("embedded")
    converted = cache_dir() / "models" / Path(gguf).stem
    tok = AutoTokenizer.from_pretrained(converted) if (converted / "tokenizer_config.json").is_file() else \
        AutoTokenizer.from_pretrained(source, gguf_file=gguf)
    out = Path(args.out)
    try:  # the chat template inside tokenizer_config.json too: older transformers read it only there
        tok.save_pretrained(out, save_jinja_files=False)
    except TypeError:
        tok.save_pretrained(out)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"tokenizer of the embedded model ({len(tok)} tokens) in {out}: {size / 2**20:.1f} MiB")
    return 0


def build_model(tokenizer_dir: str, out: Path, layers: int, hidden: int, heads: int, seed: int) -> Path:
    """A small Llama with random weights and the given tokenizer, saved where `--model` can load it."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 8 // 3,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=max(1, heads // 4),
                         max_position_embeddings=8192, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def injected(task_id: str, step: int, idx: int) -> tuple[bool, float | None]:
    """A fixed pseudo-random outcome: correct half the time, speedups spread around 1."""
    h = hashlib.sha256(f"{task_id}:{step}:{idx}".encode()).digest()
    correct = h[0] % 2 == 0
    return correct, (math.exp((h[1] - 128) / 128) if correct else None)


def peak_gib(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**30 if device.startswith("cuda") else None


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def run(args) -> int:
    import torch

    from sgs.core.backends.hf_lora import HFLoRATrainer
    from sgs.core.prompts import build_prompt
    from sgs.core.tasks import resolve_tasks
    from sgs.core.training.config import OptimSettings
    from sgs.core.training.losses import TrainingSequence
    from sgs.core.training.rewards import Outcome, RunningMedianReward, global_advantages
    from sgs.core.types import SamplingParams

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    tasks = resolve_tasks(args.tasks.split(","), kernelbench=args.kernelbench)
    work = Path(tempfile.mkdtemp(prefix="sgs-bench-ttt-"))
    try:
        model_dir = build_model(args.tokenizer, work / "model", args.layers, args.hidden, args.heads, args.seed)
        trainer = HFLoRATrainer(str(model_dir), checkpoint_dir=work / "checkpoints", device=device, dtype=args.dtype,
                                lora_rank=args.lora_rank, micro_batch_tokens=args.micro_batch_tokens)
        base_params = sum(p.numel() for p in trainer.lm.parameters())
        lora_params = sum(p.numel() for p in trainer.lm.parameters() if p.requires_grad)
        optim = OptimSettings(learning_rate=args.lr)
        medians = RunningMedianReward()
        prompts = {t.id: build_prompt(t, "body") for t in tasks}
        prompt_ids = {t.id: trainer.prompt_ids(prompts[t.id]) for t in tasks}
        print(f"model: Llama {args.layers} layers x {args.hidden}, {base_params / 1e6:.1f}M parameters "
              f"({lora_params / 1e6:.2f}M in the rank-{args.lora_rank} adapter), {trainer.backend.dtype} on {device}; "
              f"{len(tasks)} tasks ({', '.join(t.id for t in tasks)}), prompts "
              f"{min(map(len, prompt_ids.values()))}-{max(map(len, prompt_ids.values()))} tokens, K={args.k}, "
              f"{args.max_tokens} new tokens, {args.steps} steps", flush=True)
        trainer.save_checkpoint("step-0")
        rows, batch = [], []
        for step in range(args.steps + 1):
            row = {"step": step}
            if step > 0:  # the update on the previous step's samples, then its checkpoint
                reset_peak(device)
                stats = trainer.train_step(batch, optim)
                sync(device)
                started = time.perf_counter()
                trainer.save_checkpoint(f"step-{step}")
                row.update(update_s=stats.seconds, save_s=time.perf_counter() - started, loss=stats.loss,
                           update_tokens=stats.n_tokens, update_tok_s=stats.n_tokens / stats.seconds,
                           ratio_max_dev=stats.ratio_max_dev, update_peak_gib=peak_gib(device))
            reset_peak(device)
            started = time.perf_counter()
            samples = []
            for task in tasks:
                params = SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens,
                                        seed=args.seed * 1000 + step)
                for idx, g in enumerate(trainer.backend.generate(prompts[task.id], args.k, params)):
                    samples.append((task.id, idx, g))
            sync(device)
            seconds = time.perf_counter() - started
            generated = sum(len(g.extra["token_ids"]) for _, _, g in samples)
            row.update(sample_s=seconds, generated_tokens=generated, sample_tok_s=generated / seconds,
                       sample_peak_gib=peak_gib(device))
            outcomes = [Outcome(t, i, *injected(t, step, i)) for t, i, _ in samples]
            rewards = medians.rewards(outcomes, [t.id for t in tasks])
            advantages = global_advantages([r.reward for r in rewards])
            by_key = {(r.task_id, r.sample_idx): a for r, a in zip(rewards, advantages)}
            batch = [TrainingSequence(prompt_ids[t], g.extra["token_ids"], g.logprobs,
                                      [by_key[(t, i)]] * len(g.extra["token_ids"]))
                     for t, i, g in samples if g.extra["token_ids"]]
            row["mean_reward"] = statistics.fmean(r.reward for r in rewards)
            rows.append(row)
            print_row(row, header=step == 0)
        # the baseline, in the same process: one update with every sample repeating its prompt
        trainer.share_prompt = False
        reset_peak(device)
        plain = trainer.train_step(batch, optim)
        sync(device)
        trainer.share_prompt = True
        reset_peak(device)
        shared = trainer.train_step(batch, optim)
        sync(device)
        print(f"\nupdate on {len(batch)} samples ({shared.n_tokens} sampled tokens): prompt shared "
              f"{shared.seconds:.2f} s, {peak_gib(device) or 0:.2f} GiB peak; prompt repeated per sample "
              f"(baseline) {plain.seconds:.2f} s; ratio {plain.seconds / shared.seconds:.2f}x")
        summary = {"device": device, "gpu": torch.cuda.get_device_name(device) if device.startswith("cuda") else None,
                   "torch": torch.__version__, "args": vars(args), "base_params": base_params,
                   "lora_params": lora_params, "steps": rows,
                   "baseline": {"shared_s": shared.seconds, "repeated_s": plain.seconds,
                                "ratio": plain.seconds / shared.seconds}}
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / "bench_ttt.json").write_text(json.dumps(summary, indent=2, default=str))
        trainer.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


COLUMNS = [("step", "step", "d"), ("update s", "update_s", ".2f"), ("update tok/s", "update_tok_s", ".0f"),
           ("update GiB", "update_peak_gib", ".2f"), ("loss", "loss", ".4g"), ("|ratio-1|", "ratio_max_dev", ".1e"),
           ("save s", "save_s", ".2f"), ("sample s", "sample_s", ".2f"), ("tokens", "generated_tokens", "d"),
           ("sample tok/s", "sample_tok_s", ".0f"), ("sample GiB", "sample_peak_gib", ".2f"),
           ("reward", "mean_reward", ".3f")]


def print_row(row: dict, header: bool) -> None:
    widths = [max(len(h), 10) for h, _, _ in COLUMNS]
    if header:
        print("  ".join(h.rjust(w) for (h, _, _), w in zip(COLUMNS, widths)))
    cells = ["-" if row.get(key) is None else format(row[key], spec) for _, key, spec in COLUMNS]
    print("  ".join(c.rjust(w) for c, w in zip(cells, widths)), flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export-tokenizer", help="save the embedded model's tokenizer as a small folder")
    e.add_argument("--out", required=True)
    e.set_defaults(func=export_tokenizer)
    r = sub.add_parser("run", help="the benchmark")
    r.add_argument("--tokenizer", required=True, help="a tokenizer folder (export-tokenizer writes one)")
    r.add_argument("--kernelbench", default=None, help="a KernelBench checkout (levelN/ID_Name.py)")
    r.add_argument("--tasks", default="L1/19,L1/23,L1/4,L1/12,L1/36", help="comma-separated task ids")
    r.add_argument("--k", type=int, default=32)
    r.add_argument("--steps", type=int, default=3)
    r.add_argument("--max-tokens", type=int, default=1024)
    r.add_argument("--temperature", type=float, default=0.25)
    r.add_argument("--lr", type=float, default=1e-5)
    r.add_argument("--lora-rank", type=int, default=16)
    r.add_argument("--layers", type=int, default=4)
    r.add_argument("--hidden", type=int, default=1024)
    r.add_argument("--heads", type=int, default=16)
    r.add_argument("--micro-batch-tokens", type=int, default=65536)
    r.add_argument("--device", default=None)
    r.add_argument("--dtype", default="auto")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--out", default=None, help="folder for bench_ttt.json")
    r.set_defaults(func=run)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
