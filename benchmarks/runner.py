"""The policy runner's throughput and overhead; prints a markdown table.

    python benchmarks/runner.py [--skip-hf] [--gpu]

(a) The oracle policy on DeepSearch-v0 through the runner: env steps per second, every turn one
    batched policy call, envs stepped by the runner's thread pool (target >= 2,000 on 2 cores).
(b) The hf backend on CPU with the bundled SmolLM2-135M-Instruct (greedy): the runner's wall time
    divided by the time of the bare batched ``model.generate`` calls on the very same prompts,
    replayed afterwards (target <= 1.15). The difference is everything the runner and the policy
    add: tokenizing, padding, log-probs, env steps, bookkeeping.
(c) With ``--gpu`` on a CUDA machine: the hf backend with a randomly initialised model of
    Qwen2.5-0.5B's shape at 256 concurrent episodes: tokens/s and the share of wall time spent
    generating (target >= 90 %).
"""

from __future__ import annotations

import argparse
import time

from common import print_table

import agentgym  # noqa: F401  (registers the envs)
from agentgym.policies import Policy
from agentgym.policies.oracle import OraclePolicy
from agentgym.runner import Runner


class Recorder(Policy):
    """Wraps a policy: keeps each call's prompt ids and the time spent inside the policy."""

    def __init__(self, policy):
        self.policy, self.batches, self.seconds = policy, [], 0.0

    def __call__(self, conversations, tools):
        started = time.perf_counter()
        completions = self.policy(conversations, tools)
        self.seconds += time.perf_counter() - started
        self.batches.append([completion.prompt_ids for completion in completions])
        return completions

    def describe(self):
        return self.policy.describe()


def oracle_rows(rows: list) -> None:
    with Runner("agentgym/DeepSearch-v0", OraclePolicy(), num_envs=64) as runner:
        runner.run(n=128)  # warm: corpus, index, envs built
        stats = runner.run(n=2048)
    rate = f"{stats.steps / stats.seconds:,.0f} env steps/s"
    rows.append(("(a) oracle on DeepSearch, 64 in flight, 2,048 episodes", rate))
    rows.append(("    time inside the policy (the oracle)", f"{stats.policy_seconds / stats.seconds:.0%}"))


def replay(policy, batches) -> tuple[float, int]:
    """The bare ``generate`` time (and tokens) on the recorded prompts, batched as the runner did."""
    import torch

    total, tokens = 0.0, 0
    for prompts in batches:
        prompts = sorted(prompts, key=len, reverse=True)
        width = max(map(len, prompts))
        ids = torch.tensor([[policy.pad_id] * (width - len(p)) + p for p in prompts], device=policy.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=policy.device)
        if policy.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.inference_mode():
            out = policy.model.generate(input_ids=ids, attention_mask=mask, generation_config=policy._generation_config)
        if policy.device.type == "cuda":
            torch.cuda.synchronize()
        total += time.perf_counter() - started
        tokens += (out.shape[1] - width) * len(prompts)
    return total, tokens


def hf_rows(rows: list, *, model=None, tokenizer=None, label: str, num_envs: int, episodes: int, max_turns: int,
            max_new_tokens: int, env_id: str = "agentgym/DeepSearch-v0") -> None:
    from agentgym.policies.hf import HFPolicy

    policy = HFPolicy(model, tokenizer=tokenizer, temperature=0.0, max_new_tokens=max_new_tokens)
    recorder = Recorder(policy)
    with Runner(env_id, recorder, num_envs=num_envs, max_turns=max_turns) as runner:
        runner.run(n=min(num_envs, episodes))  # warm-up
        recorder.batches.clear()
        recorder.seconds = 0.0
        stats = runner.run(n=episodes)
    raw, _ = replay(policy, recorder.batches)
    rows.append((f"{label}: runner wall time", f"{stats.seconds:.2f} s ({stats.episodes} episodes, "
                 f"{stats.steps} steps, {stats.tokens:,} tokens, {stats.tokens / stats.seconds:,.0f} tokens/s)"))
    rows.append((f"{label}: bare batched generate on the same prompts", f"{raw:.2f} s"))
    rows.append((f"{label}: runner wall / bare generate", f"{stats.seconds / raw:.3f}"))
    rows.append((f"{label}: share of wall time in generate", f"{raw / stats.seconds:.0%}"))


def gpu_rows(rows: list) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from agentgym.models import load_tokenizer, smollm2_path

    # Qwen2.5-0.5B's shape, randomly initialised (no download), with the SmolLM2 tokenizer's vocabulary.
    tokenizer = load_tokenizer(*smollm2_path())
    config = AutoConfig.for_model(
        "qwen2", hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
        num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=32768, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16).to("cuda").eval()
    rows.append(("(c) device", torch.cuda.get_device_name()))
    hf_rows(rows, model=model, tokenizer=tokenizer, label="(c) Qwen2.5-0.5B shape, random, 256 in flight",
            num_envs=256, episodes=256, max_turns=2, max_new_tokens=128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-hf", action="store_true", help="only the oracle rows")
    parser.add_argument("--gpu", action="store_true", help="also (c), on a CUDA machine")
    args = parser.parse_args()
    rows: list = []
    oracle_rows(rows)
    if not args.skip_hf:
        hf_rows(rows, label="(b) hf, SmolLM2-135M on CPU, 8 in flight", num_envs=8, episodes=16, max_turns=3,
                max_new_tokens=48)
    if args.gpu:
        gpu_rows(rows)
    print_table(rows)


if __name__ == "__main__":
    main()
