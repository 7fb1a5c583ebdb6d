"""Unit tests of the trainer's parts: sampler and batching, chunked steps, schedules, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from polytag.errors import ModelFileError
from polytag.training.batching import BatchPlan, ShuffleSampler, split_chunks, token_budget_batches
from polytag.training.checkpoint import (
    CheckpointData,
    CheckpointNotFoundError,
    capture_rng,
    find_checkpoint,
    load_checkpoint,
    optimizer_from_parts,
    optimizer_to_parts,
    restore_rng,
    save_checkpoint,
)
from polytag.training.options import parse_every, split_extra_arguments
from polytag.training.padding import chunk_batch, padded_chunks
from polytag.training.run import parameter_groups, passes_limit
from polytag.training.schedule import AnnealOnPlateau, LinearWarmupSchedule
from polytag.training.step import NonFiniteLoss, Precision, StepRunner
from tests.test_trainer_support import TinyTagger, build, make_sentences


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny model is fastest (and least disturbed by a busy machine) on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- sampler and batches -------------------------------------------------------------------------------
def test_sampler_order_depends_only_on_seed_and_epoch():
    a, b = ShuffleSampler(50, seed=3), ShuffleSampler(50, seed=3)
    assert np.array_equal(a.order(2), b.order(2))
    assert not np.array_equal(a.order(1), a.order(2))
    assert not np.array_equal(a.order(1), ShuffleSampler(50, seed=4).order(1))
    assert sorted(a.order(5).tolist()) == list(range(50))
    assert ShuffleSampler(5, 1, shuffle=False).order(3).tolist() == [0, 1, 2, 3, 4]
    assert ShuffleSampler(5, 1, shuffle_first_epoch=False).order(1).tolist() == [0, 1, 2, 3, 4]


def test_sampler_state_round_trip_and_size_check():
    a = ShuffleSampler(20, seed=9)
    a.next_epoch()
    a.advance()
    a.advance()
    b = ShuffleSampler(20, seed=0)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert (b.epoch, b.index, b.seed) == (2, 2, 9)
    with pytest.raises(ValueError, match="20 training sentences"):
        ShuffleSampler(21, seed=0).load_state_dict(a.state_dict())


def test_token_budget_batches_are_dense_complete_and_within_budget():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=500)
    order = rng.permutation(500)
    budget = 256
    batches = token_budget_batches(order, lengths, budget, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(500))  # every sentence exactly once
    for batch in batches:
        assert len(batch) == 1 or lengths[batch].max() * len(batch) <= budget
    padded = sum(lengths[b].max() * len(b) for b in batches)
    fixed = [order[i : i + 8] for i in range(0, 500, 8)]  # about as many sentences per batch
    padded_fixed = sum(lengths[b].max() * len(b) for b in fixed)
    assert lengths.sum() / padded > 0.9  # bucketing: almost no padding
    assert padded < 0.75 * padded_fixed
    again = token_budget_batches(order, lengths, budget, np.random.default_rng(1))
    assert all(np.array_equal(x, y) for x, y in zip(batches, again))


def test_batch_plan_fixed_and_token_modes():
    sentences = make_sentences(30, 0)
    sampler = ShuffleSampler(30, seed=1)
    plan = BatchPlan(sentences, sampler, mini_batch_size=4)
    assert [len(b) for b in plan.batches(1)] == [4] * 7 + [2]
    assert plan.total_steps(1, 3) == 24
    token_plan = BatchPlan(sentences, sampler, mini_batch_size=4, max_tokens_per_batch=20)
    batches = token_plan.batches(2)
    assert sorted(np.concatenate(batches).tolist()) == list(range(30))
    assert token_plan.total_steps(1, 2) == len(token_plan.batches(1)) + len(batches)
    assert split_chunks(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert split_chunks(list(range(3)), None) == [[0, 1, 2]]


# -- one step --------------------------------------------------------------------------------------------
def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def test_chunked_gradients_equal_unchunked():
    model, corpus = build()
    model.eval()  # no dropout: both runs see the same function
    batch = list(corpus.train)[:7]  # chunks of 3, 3, 1 sentences of different lengths
    grads = {}
    for chunk_size in (None, 3, 1):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        runner = StepRunner(model, optimizer, Precision(torch.device("cpu"), None), chunk_size)
        optimizer.zero_grad(set_to_none=True)
        total, count = runner.accumulate_gradients(batch)
        grads[chunk_size] = (_grads(model), float(total), count)
    reference, ref_loss, ref_count = grads[None]
    assert ref_count == sum(len(s) for s in batch)
    for chunk_size in (3, 1):
        chunked, loss, count = grads[chunk_size]
        assert count == ref_count and loss == pytest.approx(ref_loss, rel=1e-6)
        for name, grad in reference.items():
            assert grad.abs().sum() > 0
            torch.testing.assert_close(chunked[name], grad, rtol=1e-5, atol=1e-7)
    # a naive mean of per-chunk means differs, so the comparison above can fail
    optimizer.zero_grad(set_to_none=True)
    for chunk in split_chunks(batch, 3):
        loss, n = model.forward_loss(chunk)
        (loss / n / 3).backward()
    naive = _grads(model)
    assert not torch.allclose(naive["out.weight"], reference["out.weight"], rtol=1e-3)


def test_padded_passes_bound_padding_and_keep_every_sentence():
    lengths = [3, 40, 5, 2, 38, 7]
    chunks = padded_chunks(list("abcdef"), lengths, max_padded=80)
    assert sorted(x for c in chunks for x in c) == list("abcdef")
    width = dict(zip("abcdef", lengths))
    for chunk in chunks:
        assert len(chunk) * max(width[x] for x in chunk) <= 80
    assert chunks[0] == ["b", "e"]  # the longest first, together
    assert padded_chunks(list("ab"), [100, 1], max_padded=10) == [["a"], ["b"]]  # too long: alone
    assert padded_chunks(list("abc"), [2, 2, 2], max_padded=6) == [["a", "b", "c"]]  # within: as is
    assert chunk_batch(list("abcdef"), 4, None, None) == [list("abcd"), list("ef")]
    with pytest.raises(ValueError, match="max_subtokens_per_pass"):
        passes_limit(0, torch.device("cpu"))
    assert passes_limit("auto", torch.device("cpu")) == 512
    assert passes_limit("auto", torch.device("meta")) is None


def test_padded_passes_give_the_gradients_of_the_whole_batch():
    model, corpus = build()
    model.eval()  # no dropout: both runs see the same function
    batch = list(corpus.train)[:7]
    lengths = [len(s) for s in batch]
    cap = max(lengths) * 2  # forces several passes
    grads = {}
    for limit in (None, cap):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        runner = StepRunner(
            model,
            optimizer,
            Precision(torch.device("cpu"), None),
            max_padded=limit,
            length_fn=lambda b: [len(s) for s in b],
        )
        assert (len(chunk_batch(batch, None, limit, runner.length_fn)) > 1) == (limit is not None)
        optimizer.zero_grad(set_to_none=True)
        total, count = runner.accumulate_gradients(batch)
        grads[limit] = (_grads(model), float(total), count)
    (reference, ref_loss, ref_count), (passes, loss, count) = grads[None], grads[cap]
    assert count == ref_count and loss == pytest.approx(ref_loss, rel=1e-6)
    for name, grad in reference.items():
        torch.testing.assert_close(passes[name], grad, rtol=1e-5, atol=1e-7)


def test_step_refuses_non_finite_loss_before_updating():
    model, corpus = build()
    model.hooks[1] = lambda loss: loss * float("nan")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    runner = StepRunner(model, optimizer, Precision(torch.device("cpu"), None))
    with pytest.raises(NonFiniteLoss):
        runner.run(list(corpus.train)[:4])
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])


def test_decoder_learning_rate_groups():
    model = TinyTagger()
    groups = parameter_groups(model, 1e-5, 1e-3)
    assert [(g["name"], g["lr"]) for g in groups] == [("encoder", 1e-5), ("head", 1e-3)]
    assert groups[0]["params"] == [model.embed.weight]
    assert {id(p) for p in groups[1]["params"]} == {id(model.out.weight), id(model.out.bias)}
    assert len(parameter_groups(model, 1e-5, None)) == 1


# -- schedules -------------------------------------------------------------------------------------------
def _optimizer(lrs: tuple[float, ...] = (1.0,)) -> torch.optim.Optimizer:
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs])


def test_linear_schedule_at_warmup_end_and_last_step():
    optimizer = _optimizer((2.0, 0.5))
    schedule = LinearWarmupSchedule(optimizer, total_steps=20, warmup_fraction=0.1)
    used = []
    for _ in range(20):
        used.append([g["lr"] for g in optimizer.param_groups])  # the rates of this optimizer step
        schedule.step_batch()
    assert schedule.warmup_steps == 2
    assert used[0] == [0.0, 0.0]
    assert used[1] == pytest.approx([1.0, 0.25])  # half-way through warm-up
    assert used[2] == pytest.approx([2.0, 0.5])  # warm-up end: the full rates
    assert used[19] == pytest.approx([2.0 / 18, 0.5 / 18])  # last step
    assert [g["lr"] for g in optimizer.param_groups] == [0.0, 0.0]  # after the last step
    assert all(a[0] >= b[0] for a, b in zip(used[2:], used[3:]))  # decays monotonically


def test_linear_schedule_state_round_trip():
    optimizer = _optimizer()
    schedule = LinearWarmupSchedule(optimizer, 10, 0.2)
    for _ in range(4):
        schedule.step_batch()
    other_optimizer = _optimizer()
    other = LinearWarmupSchedule(other_optimizer, 99, 0.5)
    other.load_state_dict(json.loads(json.dumps(schedule.state_dict())))
    assert other_optimizer.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"])
    schedule.step_batch()
    other.step_batch()
    assert other_optimizer.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"])


def test_anneal_on_plateau_halves_after_patience_and_stops_at_minimum():
    optimizer = _optimizer((0.1,))
    schedule = AnnealOnPlateau(optimizer, factor=0.5, patience=1, min_learning_rate=0.03, mode="max")
    assert not schedule.step_epoch(0.5)  # best
    assert not schedule.step_epoch(0.4)  # 1 bad epoch: within patience
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    assert not schedule.step_epoch(0.5)  # equal is not better: 2 bad epochs -> anneal
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05) and schedule.annealed_last_epoch
    assert not schedule.step_epoch(0.6)  # improvement resets
    schedule.step_epoch(0.1)
    stop = schedule.step_epoch(0.1)  # anneal to 0.025 < 0.03
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025) and stop
    loss_mode = AnnealOnPlateau(_optimizer((1.0,)), patience=0, mode="min")
    loss_mode.step_epoch(1.0)
    loss_mode.step_epoch(2.0)
    assert loss_mode.optimizer.param_groups[0]["lr"] == pytest.approx(0.5)


# -- options ---------------------------------------------------------------------------------------------
def test_parse_every_and_extra_arguments():
    assert parse_every(3) == (3, "epoch")
    assert parse_every("500 steps") == (500, "step")
    assert parse_every("2 epochs") == (2, "epoch")
    assert parse_every(None) == (0, "epoch")
    with pytest.raises(ValueError, match="500 steps"):
        parse_every("every now and then")
    optimizer_kwargs, ignored = split_extra_arguments(
        {"weight_decay": 0.01, "embeddings_storage_mode": "gpu"}, torch.optim.AdamW
    )
    assert optimizer_kwargs == {"weight_decay": 0.01} and ignored == {"embeddings_storage_mode": "gpu"}
    with pytest.raises(TypeError, match="not_an_argument"):
        split_extra_arguments({"not_an_argument": 1}, torch.optim.AdamW)


# -- checkpoints -----------------------------------------------------------------------------------------
def test_optimizer_state_round_trip_continues_identically():
    torch.manual_seed(0)
    model_a = torch.nn.Linear(4, 3)
    model_b = torch.nn.Linear(4, 3)
    model_b.load_state_dict(model_a.state_dict())
    opt_a = torch.optim.AdamW(model_a.parameters(), lr=0.1, betas=(0.8, 0.95))
    data = torch.randn(8, 4)

    def step(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad()
        model(data).pow(2).sum().backward()
        optimizer.step()

    for _ in range(3):
        step(model_a, opt_a)
    model_b.load_state_dict(model_a.state_dict())
    tensors, meta = optimizer_to_parts(opt_a)
    opt_b = torch.optim.AdamW(model_b.parameters(), lr=0.5)
    tensors = {k: v.clone() for k, v in tensors.items()}  # as read from a file: no shared memory
    optimizer_from_parts(opt_b, tensors, json.loads(json.dumps(meta)))
    assert opt_b.param_groups[0]["betas"] == (0.8, 0.95) and opt_b.param_groups[0]["lr"] == 0.1
    step(model_a, opt_a)
    step(model_b, opt_b)
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(a, b)


def test_rng_round_trip():
    import random

    tensors, meta = capture_rng()
    first = (torch.rand(3), random.random(), np.random.rand())
    restore_rng(tensors, json.loads(json.dumps(meta)))
    second = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(first[0], second[0]) and first[1:] == second[1:]


def _data(value: float) -> CheckpointData:
    model = {"w": torch.full((2,), value)}
    return CheckpointData(model=model, tensors={"t": torch.zeros(1)}, state={"v": value})


def test_checkpoints_replace_old_ones_only_when_complete(tmp_path):
    root = tmp_path / "checkpoints"
    first = save_checkpoint(root, "step-000000005", _data(1.0))
    (root / ".tmp-step-000000009-123").mkdir()  # a write that was killed half-way
    (root / ".tmp-step-000000009-123" / "model.safetensors").write_bytes(b"partial")
    assert find_checkpoint(tmp_path) == first  # the incomplete folder is never chosen
    second = save_checkpoint(root, "step-000000010", _data(2.0))
    assert not first.exists() and not (root / ".tmp-step-000000009-123").exists()
    folder, data = load_checkpoint(tmp_path)
    assert folder == second and data.state["v"] == 2.0 and torch.equal(data.model["w"], torch.full((2,), 2.0))
    again = save_checkpoint(root, "step-000000010", _data(3.0))  # the same step saved again
    assert again == second and load_checkpoint(again)[1].state["v"] == 3.0
    kept = save_checkpoint(root, "step-000000020", _data(4.0), keep=2)
    assert sorted(p.name for p in root.iterdir()) == ["step-000000010", kept.name]


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no complete checkpoint"):
        find_checkpoint(tmp_path)
    folder = save_checkpoint(tmp_path, "step-000000001", _data(1.0))
    (folder / "model.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(ModelFileError, match="unreadable checkpoint tensors"):
        load_checkpoint(folder)
    (folder / "trainer-state.json").write_text('{"format": "something else"}')
    with pytest.raises(ModelFileError, match="not a polytag checkpoint"):
        load_checkpoint(folder)


def test_shared_tensors_are_saved(tmp_path):
    shared = torch.arange(6.0)
    data = CheckpointData(model={"a": shared, "b": shared, "c": shared[:3]}, tensors={}, state={})
    folder = save_checkpoint(tmp_path, "step-000000001", data)
    _, loaded = load_checkpoint(folder)
    assert torch.equal(loaded.model["b"], shared) and torch.equal(loaded.model["c"], shared[:3])


def test_weighted_sampler_draws_by_weight_repeatably():
    weights = [1.0] * 90 + [9.0] * 10  # the last 10 sentences hold half of the mass
    sampler = ShuffleSampler(100, seed=2, weights=weights)
    order = sampler.order(1)
    assert len(order) == 100 and np.array_equal(order, ShuffleSampler(100, 2, weights=weights).order(1))
    share = np.mean(np.concatenate([sampler.order(e) for e in range(1, 21)]) >= 90)
    assert 0.4 < share < 0.6
    with pytest.raises(ValueError, match="3 sampling weights"):
        ShuffleSampler(4, 0, weights=[1.0, 1.0, 1.0])
