"""LLM loading: local directories, the graph token, the conversion cache, offline-model checks."""

from __future__ import annotations

import importlib.util
import threading

import pytest
import torch
from tiny_models import WORDS, make_llm, make_tokenizer

from galla.constants import GRAPH_TOKEN
from galla.model import OFFLINE_MODELS, add_graph_token, load_llm, resolve_llm
from galla.model import llm as llm_module
from galla.model.llm import ModelSpecError, OfflineModel, resolve_dtype


@pytest.mark.parametrize(("spare", "resized"), [(0, True), (8, False)])
def test_graph_token_resizes_only_without_spare_rows(spare, resized):
    llm, tok = make_llm("qwen2", vocab_size=len(WORDS) + spare), make_tokenizer()
    token_id = add_graph_token(llm, tok)
    assert token_id == len(WORDS) and tok.convert_ids_to_tokens(token_id) == GRAPH_TOKEN
    assert llm.get_input_embeddings().weight.shape[0] == (len(WORDS) + 1 if resized else len(WORDS) + spare)
    ids = tok(f"w1 {GRAPH_TOKEN}{GRAPH_TOKEN}w2").input_ids
    assert ids == [4, token_id, token_id, 5]  # never split, even without spaces
    assert tok.decode(ids, skip_special_tokens=True) == "w1 w2"
    assert add_graph_token(llm, tok) == token_id and len(tok) == len(WORDS) + 1  # idempotent


def test_load_llm_from_a_local_directory(tmp_path):
    make_llm("llama").save_pretrained(tmp_path)
    tok = make_tokenizer()
    tok.pad_token = None
    tok.save_pretrained(tmp_path)
    llm, tok = load_llm(str(tmp_path))
    assert llm.dtype == torch.float32 and llm.config._attn_implementation == "sdpa"
    assert tok.pad_token == tok.eos_token == "</s>"  # GALLa pads with EOS
    llm, _ = load_llm(str(tmp_path), dtype="bfloat16")
    assert llm.dtype == torch.bfloat16
    assert resolve_dtype("auto", "cpu") == torch.float32


def test_pickled_weights_are_refused(tmp_path):
    llm = make_llm("llama")
    llm.config.save_pretrained(tmp_path)
    make_tokenizer().save_pretrained(tmp_path)
    torch.save(llm.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(OSError, match="safetensors"):
        load_llm(str(tmp_path))


def test_specs_resolve_or_explain(tmp_path):
    assert resolve_llm("Qwen/Qwen2.5-Coder-1.5B-Instruct") == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    with pytest.raises(ModelSpecError, match=r"is a folder without config\.json"):
        resolve_llm(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert resolve_llm(str(tmp_path)) == str(tmp_path)
    with pytest.raises(ValueError, match="smollm2-135m"):
        resolve_llm("smollm2")
    with pytest.raises(ModelSpecError, match="is not a local folder or file"):
        resolve_llm(str(tmp_path / "missing.gguf"))
    assert set(OFFLINE_MODELS) == {"smollm2-135m", "qwen2.5-coder-0.5b"}


def test_missing_offline_package_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n.startswith("pandas_sns") else real(n)
    )
    with pytest.raises(ModuleNotFoundError, match="GALLA_QWEN=1"):
        resolve_llm("qwen2.5-coder-0.5b")


def test_offline_files_are_checked_against_their_sha256(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "fake_gguf_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "model.gguf").write_bytes(b"GGUF not really")
    meta = tmp_path / "site" / "fake_gguf_pkg-1.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-gguf-pkg\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("GALLA_CACHE", str(tmp_path / "cache"))
    fake = OfflineModel("fake", (("fake-gguf-pkg", "model.gguf"),), "0" * 64, "MIT", "pip install fake")
    monkeypatch.setitem(OFFLINE_MODELS, "fake", fake)
    with pytest.raises(ValueError, match="differs from the pinned"):
        resolve_llm("fake")
    assert not any((tmp_path / "cache" / "models").glob("fake*/"))  # nothing half-built is left


def test_conversion_cache_builds_once_under_a_lock(tmp_path):
    calls = []

    def build(tmp):
        calls.append(tmp)
        tmp.mkdir()
        (tmp / "config.json").write_text("{}")

    out = tmp_path / "models" / "m"
    threads = [threading.Thread(target=llm_module._cached, args=(out, build)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and (out / "config.json").exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []  # no temp dirs left

    def fail(tmp):
        tmp.mkdir()
        raise RuntimeError("conversion failed")

    with pytest.raises(RuntimeError):
        llm_module._cached(tmp_path / "models" / "bad", fail)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["bad.lock", "m", "m.lock"]
