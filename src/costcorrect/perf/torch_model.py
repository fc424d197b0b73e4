"""A random-weight decoder with a catalog model's shapes in PyTorch (bf16): RMSNorm, GQA
attention (``scaled_dot_product_attention``) and a SwiGLU MLP per layer — enough to time real
prefill and decode iterations without downloading weights — and the iterations the GPU commands
time. Decode runs as engines do: a static per-sequence KV cache written in place, GQA without
repeating KV (a group's query heads are one multi-row query against their KV head), and on CUDA
the whole step replayed from a CUDA graph (``../shared/data/h200/torch_graph_iterations.csv``
measured this decoder). PyTorch is optional (``pip install 'costcorrect[gpu]'``) and imported on
use."""

from __future__ import annotations

from collections.abc import Callable

GRAPH_WARMUP = 3  # eager runs on a side stream before a CUDA graph is captured


def random_decoder(spec, layers: int, device: str = "cuda"):
    """(blocks, (kv heads, head dim)): ``layers`` random-weight bf16 blocks with ``spec``'s
    shapes on ``device``. A block maps (hidden states, None) to hidden states in prefill, and
    (one token's hidden states, KV cache, cached tokens) in decode, writing the token's K and V
    into the cache (``(2, batch, kv heads, capacity, head dim)``) at that position."""
    import torch

    nn, F = torch.nn, torch.nn.functional
    d, heads = spec.hidden_size, spec.num_attention_heads
    kv_heads = spec.num_key_value_heads or heads
    head = spec.head_dim or d // heads
    group = heads // kv_heads

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.RMSNorm(d), nn.RMSNorm(d)
            self.qkv = nn.Linear(d, (heads + 2 * kv_heads) * head, bias=False)
            self.out = nn.Linear(heads * head, d, bias=False)
            self.up = nn.Linear(d, 2 * spec.intermediate_size, bias=False)
            self.down = nn.Linear(spec.intermediate_size, d, bias=False)

        def forward(self, x, cache=None, cached: int = 0):
            b, n, _ = x.shape
            q, k, v = self.qkv(self.norm1(x)).split(
                [heads * head, kv_heads * head, kv_heads * head], -1
            )
            if cache is None:  # prefill: causal over the prompt
                q = q.view(b, n, heads, head).transpose(1, 2)
                k = k.view(b, n, kv_heads, head).transpose(1, 2)
                v = v.view(b, n, kv_heads, head).transpose(1, 2)
                attn = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=group > 1)
                attn = attn.transpose(1, 2).reshape(b, n, heads * head)
            else:  # decode one token: write its KV in place, attend over the cached ones
                cache[0, :, :, cached] = k.view(b, kv_heads, head)
                cache[1, :, :, cached] = v.view(b, kv_heads, head)
                keys, values = cache[0, :, :, : cached + 1], cache[1, :, :, : cached + 1]
                rows = q.view(b, kv_heads, group, head)  # a group's heads: one query
                attn = F.scaled_dot_product_attention(rows, keys, values)
                attn = attn.reshape(b, 1, heads * head)
            x = x + self.out(attn)
            gate, up = self.up(self.norm2(x)).chunk(2, -1)
            return x + self.down(F.silu(gate) * up)

    model = nn.ModuleList(Block() for _ in range(layers))
    return model.to(device=device, dtype=torch.bfloat16).eval(), (kv_heads, head)


def prefill_step(blocks, batch: int, prompt: int, device: str) -> Callable[[], None]:
    """One prefill iteration of ``batch`` prompts of ``prompt`` tokens (eager)."""
    import torch

    x = torch.randn(
        batch, prompt, blocks[0].norm1.weight.numel(), device=device, dtype=torch.bfloat16
    )

    def step() -> None:
        h = x
        for block in blocks:
            h = block(h)

    return step


def decode_step(
    blocks, kv: tuple[int, int], batch: int, context: int, device: str
) -> Callable[[], None]:
    """One decode iteration of ``batch`` sequences on ``context`` cached tokens each, with a
    static cache; on CUDA a CUDA graph's replay (every replay writes the same cache slot)."""
    import torch

    kv_heads, head = kv
    d = blocks[0].norm1.weight.numel()
    x = torch.randn(batch, 1, d, device=device, dtype=torch.bfloat16)
    caches = [
        torch.randn(2, batch, kv_heads, context + 1, head, device=device, dtype=torch.bfloat16)
        for _ in blocks
    ]

    def step() -> None:
        h = x
        for block, cache in zip(blocks, caches, strict=True):
            h = block(h, cache, context)

    if not device.startswith("cuda"):
        return step
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(GRAPH_WARMUP):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()

    def replay(graph=graph, tensors=(x, caches)) -> None:  # the graph reads these tensors
        graph.replay()

    return replay
