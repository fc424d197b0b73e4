"""A random-weight decoder with a catalog model's shapes in PyTorch (bf16, on CUDA): RMSNorm,
GQA attention (``scaled_dot_product_attention``) and a SwiGLU MLP per layer — enough to time
real prefill and decode iterations without downloading weights. PyTorch is optional
(``pip install 'costcorrect[gpu]'``) and imported on use."""

from __future__ import annotations


def random_decoder(spec, layers: int, device: str = "cuda"):
    """(blocks, (kv heads, head dim)): ``layers`` random-weight bf16 blocks with ``spec``'s
    shapes on ``device``; each block maps (hidden states, KV cache or None) to hidden
    states."""
    import torch

    nn, F = torch.nn, torch.nn.functional
    d, heads = spec.hidden_size, spec.num_attention_heads
    kv_heads = spec.num_key_value_heads or heads
    head = spec.head_dim or d // heads

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.RMSNorm(d), nn.RMSNorm(d)
            self.qkv = nn.Linear(d, (heads + 2 * kv_heads) * head, bias=False)
            self.out = nn.Linear(heads * head, d, bias=False)
            self.up = nn.Linear(d, 2 * spec.intermediate_size, bias=False)
            self.down = nn.Linear(spec.intermediate_size, d, bias=False)

        def forward(self, x, cache):
            b, n, _ = x.shape
            q, k, v = self.qkv(self.norm1(x)).split(
                [heads * head, kv_heads * head, kv_heads * head], -1
            )
            q = q.view(b, n, heads, head).transpose(1, 2)
            k = k.view(b, n, kv_heads, head).transpose(1, 2)
            v = v.view(b, n, kv_heads, head).transpose(1, 2)
            if cache is not None:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            attn = F.scaled_dot_product_attention(
                q, k, v, is_causal=cache is None, enable_gqa=kv_heads != heads
            )
            x = x + self.out(attn.transpose(1, 2).reshape(b, n, heads * head))
            gate, up = self.up(self.norm2(x)).chunk(2, -1)
            return x + self.down(F.silu(gate) * up)

    model = nn.ModuleList(Block() for _ in range(layers))
    return model.to(device=device, dtype=torch.bfloat16).eval(), (kv_heads, head)
