"""GraphLLM: a Hugging Face causal LM that reads code graphs through a GNN encoder and an adapter.

- Composition as in torchtune's ``EarlyFusionModel``: the LLM, the encoder and the adapter are modules
  handed in; which of them train is three flags (GALLa stage 1: encoder + adapter; stage 2: all).
- ``encode_graphs``: graphs -> encoder (one vector per node) -> adapter -> graph tokens in the LLM width.
- ``splice_graph_tokens`` (a pure function): the graph tokens overwrite the embeddings of the placeholder
  tokens, and the labels there become ``IGNORE_INDEX`` (LLaVA ``prepare_inputs_labels_for_multimodal``).
  Graphs belong, in order, to the samples whose ``input_ids`` hold placeholders, so one batch may mix
  graph samples and text-only samples; a batch without graphs never runs the encoder.
- ``forward`` returns the LLM's output (with the LM loss when labels are given); ``generate`` splices the
  same way and decodes with ``llm.generate(inputs_embeds=...)``.
- ``save_pretrained``: ``llm/`` (a standard HF directory, safetensors), ``encoder.safetensors``,
  ``adapter.safetensors`` and ``galla_config.json``. ``export``: the LLM alone, a plain HF model that
  loads with transformers and no galla import, which is what GALLa ships for inference.
- Encoder and adapter keep float32 weights; their output is cast to the LLM's dtype (bf16 on GPU).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.modeling_outputs import CausalLMOutputWithPast

from galla.config import ModelConfig
from galla.constants import IGNORE_INDEX
from galla.model.adapter import Adapter, build_adapter
from galla.model.encoder import GraphEncoder, GraphInput, as_batch, build_encoder
from galla.model.llm import add_graph_token, load_llm
from galla.run_layout import GraphLLMDir


def splice_graph_tokens(
    inputs_embeds: Tensor,
    input_ids: Tensor,
    graph_token_id: int,
    graph_tokens: Tensor | None,
    graph_valid: Tensor | None,
    labels: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Write graph tokens over the placeholder positions and ignore the labels there.

    Args:
        inputs_embeds: ``(B, T, D)`` text embeddings.
        input_ids: ``(B, T)``; placeholders are ``graph_token_id``.
        graph_tokens: ``(B_g, G, D)``, one row per sample that holds placeholders, in batch order; ``None``
            for a text-only batch.
        graph_valid: ``(B_g, G)``; ``graph_tokens[g, graph_valid[g]]`` fill the placeholders of graph ``g``.
        labels: ``(B, T)`` or ``None``.

    Returns:
        ``(B, T, D)`` embeddings and ``(B, T)`` labels (``None`` if none were given).
    """
    slots = input_ids == graph_token_id  # (B, T)
    has_graph = slots.any(dim=1)  # (B,)
    num_graphs = 0 if graph_tokens is None else graph_tokens.shape[0]
    if int(has_graph.sum()) != num_graphs:
        raise ValueError(
            f"{int(has_graph.sum())} samples hold graph placeholders but {num_graphs} graphs were given"
        )
    if graph_tokens is None or graph_valid is None:
        return inputs_embeds, labels
    wanted = slots.sum(dim=1)[has_graph]  # (B_g,) placeholders per graph sample
    given = graph_valid.sum(dim=1)  # (B_g,) tokens per graph
    if not torch.equal(wanted, given):
        raise ValueError(
            f"placeholders per sample {wanted.tolist()} != graph tokens per graph {given.tolist()}"
        )
    values = graph_tokens[graph_valid].to(inputs_embeds.dtype)  # (sum(given), D), row-major like slots
    embeds = inputs_embeds.masked_scatter(slots.unsqueeze(-1), values)  # (B, T, D)
    if labels is not None:
        labels = labels.masked_fill(slots, IGNORE_INDEX)  # (B, T)
    return embeds, labels


class GraphLLM(nn.Module):
    """A causal LM with a graph encoder and an adapter spliced into its input embeddings.

    Args:
        llm: a Hugging Face causal LM whose vocabulary holds the graph placeholder token.
        encoder: graphs to node vectors (:func:`galla.model.build_encoder`).
        adapter: node vectors to graph tokens (:func:`galla.model.build_adapter`).
        graph_token_id: id of the placeholder token.
        tokenizer: the LLM's tokenizer (saved with the model; used for prompts and generation).
        config: the configuration the parts were built from (needed by :meth:`save_pretrained`).
        llm_trainable, encoder_trainable, adapter_trainable: which parts receive gradients.

    Example:
        >>> model = GraphLLM.from_config(ModelConfig(llm="smollm2-135m", llm_trainable=False))
        >>> prompt = model.graph_placeholder() + "\\n" + source_code
        >>> ids = model.tokenizer(prompt, return_tensors="pt").input_ids
        >>> loss = model(ids, labels=ids, graphs=[code_graph]).loss
    """

    def __init__(
        self,
        llm: PreTrainedModel,
        encoder: GraphEncoder,
        adapter: Adapter,
        graph_token_id: int,
        *,
        tokenizer: PreTrainedTokenizerBase | None = None,
        config: ModelConfig | None = None,
        llm_trainable: bool = True,
        encoder_trainable: bool = True,
        adapter_trainable: bool = True,
    ) -> None:
        super().__init__()
        self.llm, self.encoder, self.adapter = llm, encoder, adapter
        self.graph_token_id, self.tokenizer, self.config = graph_token_id, tokenizer, config
        self.set_trainable(llm=llm_trainable, encoder=encoder_trainable, adapter=adapter_trainable)

    # --- construction ----------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: ModelConfig, *, device: str | torch.device | None = None) -> GraphLLM:
        """Load ``config.llm`` and build a fresh encoder and adapter around it."""
        llm, tokenizer = load_llm(
            config.llm,
            dtype=config.dtype,
            device=device,
            attn_implementation=config.attn_implementation,
            trust_remote_code=config.trust_remote_code,
        )
        return cls.from_llm(llm, tokenizer, config)

    @classmethod
    def from_llm(
        cls,
        llm: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        config: ModelConfig,
        *,
        kind_table: Tensor | None = None,
    ) -> GraphLLM:
        """Wrap a loaded LLM: add the placeholder token, build the encoder and adapter from ``config``."""
        graph_token_id = add_graph_token(llm, tokenizer, config.graph_token)
        encoder = build_encoder(config.encoder, kind_table)
        d_model = llm.get_input_embeddings().embedding_dim
        adapter = build_adapter(config.adapter, encoder.out_dim, d_model)
        device = llm.get_input_embeddings().weight.device
        model = cls(
            llm,
            encoder.to(device),
            adapter.to(device),
            graph_token_id,
            tokenizer=tokenizer,
            config=config,
            llm_trainable=config.llm_trainable,
            encoder_trainable=config.encoder_trainable,
            adapter_trainable=config.adapter_trainable,
        )
        if config.gradient_checkpointing:
            model.enable_gradient_checkpointing()
        return model

    def set_trainable(
        self, *, llm: bool | None = None, encoder: bool | None = None, adapter: bool | None = None
    ) -> None:
        """Switch gradients on or off per part (``None`` leaves a part as it is)."""
        for name, flag in (("llm", llm), ("encoder", encoder), ("adapter", adapter)):
            if flag is not None:
                getattr(self, name).requires_grad_(flag)
                setattr(self, f"{name}_trainable", flag)

    def enable_gradient_checkpointing(self) -> None:
        """Recompute the LLM's activations in the backward pass (non-reentrant)."""
        enable = (
            getattr(self.llm, "activation_checkpointing_enable", None)
            or self.llm.gradient_checkpointing_enable
        )
        enable()
        self.llm.config.use_cache = False

    @property
    def device(self) -> torch.device:
        return self.llm.get_input_embeddings().weight.device

    # --- prompts ---------------------------------------------------------------------------------

    def num_graph_tokens(self, num_nodes: int) -> int:
        """Placeholders a prompt needs for a graph of ``num_nodes`` nodes."""
        return self.adapter.num_tokens(num_nodes)

    def graph_placeholder(self, num_nodes: int = 0) -> str:
        """The placeholder span for one graph (``num_nodes`` matters for the ``mlp`` adapter only)."""
        token = self.tokenizer.convert_ids_to_tokens(self.graph_token_id) if self.tokenizer else None
        if token is None:
            raise ValueError("GraphLLM has no tokenizer")
        return token * self.num_graph_tokens(num_nodes)

    # --- the graph path ---------------------------------------------------------------------------

    def encode_graphs(self, graphs: GraphInput) -> tuple[Tensor, Tensor]:
        """Graph tokens ``(B_g, G, D)`` and their validity mask ``(B_g, G)``."""
        batch = as_batch(graphs).to(self.device)
        nodes = self.encoder(batch)  # (N, F)
        return self.adapter(nodes, batch.batch, batch.num_graphs)  # (B_g, G, D), (B_g, G)

    def embed(
        self, input_ids: Tensor, labels: Tensor | None = None, graphs: GraphInput | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Input embeddings with the graphs spliced in, and the labels with the graph positions ignored."""
        inputs_embeds = self.llm.get_input_embeddings()(input_ids)  # (B, T, D)
        if graphs is None or (isinstance(graphs, list | tuple) and not graphs):
            return splice_graph_tokens(inputs_embeds, input_ids, self.graph_token_id, None, None, labels)
        tokens, valid = self.encode_graphs(graphs)  # (B_g, G, D), (B_g, G)
        return splice_graph_tokens(inputs_embeds, input_ids, self.graph_token_id, tokens, valid, labels)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        graphs: GraphInput | None = None,
        **llm_kwargs: object,
    ) -> CausalLMOutputWithPast:
        """The LLM's output on the spliced embeddings; ``.loss`` is the LM loss when ``labels`` are given."""
        inputs_embeds, labels = self.embed(input_ids, labels, graphs)
        return self.llm(
            inputs_embeds=inputs_embeds, attention_mask=attention_mask, labels=labels, **llm_kwargs
        )

    @torch.no_grad()
    def generate(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        graphs: GraphInput | None = None,
        **generate_kwargs: object,
    ) -> Tensor:
        """New tokens only ``(B, T_new)`` (generation from ``inputs_embeds`` does not echo the prompt)."""
        inputs_embeds, _ = self.embed(input_ids, None, graphs)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if self.tokenizer is not None:
            generate_kwargs.setdefault("pad_token_id", self.tokenizer.pad_token_id)
        return self.llm.generate(
            inputs_embeds=inputs_embeds, attention_mask=attention_mask, **generate_kwargs
        )

    # --- checkpoints ------------------------------------------------------------------------------

    def save_pretrained(self, path: str | Path) -> Path:
        """Save ``llm/`` (HF dir), ``encoder.safetensors``, ``adapter.safetensors``, ``galla_config.json``."""
        if self.config is None:
            raise ValueError("GraphLLM.save_pretrained needs the ModelConfig the parts were built from")
        path = Path(path)
        saved = GraphLLMDir(path)
        self.export(saved.llm)
        for name in ("encoder", "adapter"):
            state = {k: v.detach().contiguous() for k, v in getattr(self, name).state_dict().items()}
            save_file(state, saved.weights(name))
        config = dataclasses.replace(
            self.config,
            llm_trainable=self.llm_trainable,
            encoder_trainable=self.encoder_trainable,
            adapter_trainable=self.adapter_trainable,
        )
        meta = {"format": 1, "graph_token_id": self.graph_token_id, "config": config.to_dict()}
        saved.config.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
        return path

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        trust_remote_code: bool = False,
    ) -> GraphLLM:
        """Load a directory written by :meth:`save_pretrained`.

        ``trust_remote_code`` comes from the caller only: the directory's own ``galla_config.json`` may
        say true (a downloaded stage-1 output, say), but a directory must not switch on running the
        Python it ships with, so its stored value is replaced by the caller's."""
        path = Path(path)
        saved = GraphLLMDir(path)
        meta = json.loads(saved.config.read_text())
        config = dataclasses.replace(
            ModelConfig.from_dict(meta["config"]), trust_remote_code=bool(trust_remote_code)
        )
        llm, tokenizer = load_llm(
            str(saved.llm),
            dtype=dtype or config.dtype,
            device=device,
            attn_implementation=config.attn_implementation,
            trust_remote_code=config.trust_remote_code,
        )
        encoder_state = load_file(saved.weights("encoder"))
        model = cls.from_llm(llm, tokenizer, config, kind_table=encoder_state.get("features.table"))
        if model.graph_token_id != meta["graph_token_id"]:
            raise ValueError(
                f"{path}: graph token id {model.graph_token_id} != saved {meta['graph_token_id']}"
            )
        model.encoder.load_state_dict(encoder_state)
        model.adapter.load_state_dict(load_file(saved.weights("adapter")))
        return model

    def export(self, path: str | Path) -> Path:
        """Write the LLM alone (plus tokenizer) as a standard Hugging Face model directory.

        An LLM stored in 16 bits (bfloat16, float16) and trained in float32 (on CPU) is written back in
        its stored dtype, not twice its size: the weights are rounded to it, as loading in that dtype
        would. Otherwise the weights are written in the dtype they have."""
        path = Path(path)
        config = self.llm.config
        use_cache = config.use_cache
        stored = getattr(self.llm, "galla_stored_dtype", None)
        current = next(self.llm.parameters()).dtype
        narrow = stored in (torch.bfloat16, torch.float16) and current == torch.float32
        config.use_cache = True  # an inference model; training switched it off for checkpointing
        try:
            if narrow:
                cast: dict[int, torch.Tensor] = {}  # by storage, so tied weights stay one tensor
                state = {}
                for k, v in self.llm.state_dict().items():
                    if v.is_floating_point():
                        key = v.untyped_storage().data_ptr() + v.storage_offset()
                        v = cast.setdefault(key, v.detach().to(stored))
                    state[k] = v
                self.llm.save_pretrained(path, state_dict=state)
                hf = json.loads((path / "config.json").read_text())  # it writes the in-memory dtype
                hf["dtype"] = str(stored).removeprefix("torch.")
                (path / "config.json").write_text(json.dumps(hf, indent=2) + "\n")
            else:
                self.llm.save_pretrained(path)
        finally:
            config.use_cache = use_cache
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(path)
        return path
