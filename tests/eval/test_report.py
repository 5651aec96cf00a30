from __future__ import annotations

import json

import pytest

from genaisys.errors import ConfigError
from genaisys.eval.report import compare, markdown_table, write_report
from genaisys.eval.runner import EvalResult, run_eval
from genaisys.eval.tasks import get_task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _pope(scripted, tiny_vqa, answer, name):
    return run_eval(get_task("pope-adversarial", root=tiny_vqa), scripted(answer=answer, name_=name), n_resamples=100)


def test_report_round_trip_with_pngs(scripted, tiny_vqa, tmp_path) -> None:
    always_yes = _pope(scripted, tiny_vqa, lambda t, i: "Yes, there is.", "yes-man")
    assert always_yes.metrics["yes_ratio"]["value"] == 1.0 and always_yes.metrics["accuracy"]["value"] == 0.5
    assert always_yes.metrics["precision"]["value"] == 0.5 and always_yes.metrics["recall"]["value"] == 1.0
    paths = write_report([always_yes], tmp_path / "rep")
    back = [EvalResult.from_dict(d) for d in json.loads(paths["json"].read_text())]
    assert back[0].to_dict() == json.loads(json.dumps(always_yes.to_dict()))
    md = paths["markdown"].read_text()
    assert "| pope-adversarial | scripted:yes-man:" in md and "| yes_ratio | 1.000 |" in md
    assert len(paths["plots"]) == 2 and not paths["skipped"]
    for p in paths["plots"]:
        assert p.read_bytes()[:8] == PNG_MAGIC
    assert any("confusion" in p.name for p in paths["plots"])


def test_markdown_table_rows() -> None:
    r = EvalResult("t", "m", {"a": {"value": 1.0, "ci_low": 1.0, "ci_high": 1.0},
                              "b": {"value": 0.25, "ci_low": 0.0, "ci_high": 0.5}}, [], {"n_items": 4})
    lines = markdown_table([r]).splitlines()
    assert lines[0].startswith("| task | model | metric |") and len(lines) == 4
    assert lines[3] == "| t | m | b | 0.250 | [0.000, 0.500] | 4 |  |"


def test_compare_says_what_changed_and_if_beyond_noise(scripted, tiny_vqa, tmp_path) -> None:
    yes_man = _pope(scripted, tiny_vqa, lambda t, i: "Yes.", "a")
    also_yes = _pope(scripted, tiny_vqa, lambda t, i: "yes", "b")
    no_man = _pope(scripted, tiny_vqa, lambda t, i: "No.", "c")
    same = compare(yes_man, also_yes)
    assert all(s["delta"] == 0 and not s["beyond_noise"] for s in same["metrics"].values())
    flipped = compare(yes_man.save(tmp_path / "a.json"), no_man.save(tmp_path / "c.json"))
    yr = flipped["metrics"]["yes_ratio"]
    assert yr["delta"] == -1.0 and yr["beyond_noise"] and yr["n_shared"] == 12
    assert flipped["metrics"]["accuracy"]["delta"] == 0.0 and not flipped["metrics"]["accuracy"]["beyond_noise"]
    assert "| yes_ratio | 1.000 | 0.000 | -1.000 |" in flipped["markdown"]
    other = run_eval(get_task("easy-vqa", root=tiny_vqa), scripted(answer=lambda t, i: "yes"), n_resamples=10)
    with pytest.raises(ConfigError, match="cannot compare"):
        compare(yes_man, other)


def test_compare_refuses_to_trust_different_judges(scripted, tiny_vqa) -> None:
    sut = scripted(answer=lambda t, i: "A red circle.")
    lenient = run_eval(get_task("judge", judge=scripted(answer=lambda t, i: "Score: 5", name_="lenient"),
                                root=tiny_vqa), sut, n_resamples=50)
    harsh = run_eval(get_task("judge", judge=scripted(answer=lambda t, i: "Score: 1", name_="harsh"),
                              root=tiny_vqa), sut, n_resamples=50)
    out = compare(lenient, harsh)
    assert out["metrics"]["mean_score"]["delta"] == -4.0
    assert not out["metrics"]["mean_score"]["beyond_noise"] and any("judge_id differs" in n for n in out["notes"])
