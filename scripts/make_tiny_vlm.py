"""Build a tiny random-weight Qwen2-VL model directory, fully offline, for the vLLM CPU tests.

The weights are random, so the answers are noise; what the tests check is the plumbing:
images reach the model, structured output yields schema-valid JSON, batching, cancellation.
The tokenizer is a byte-level BPE trained here on a few sentences (~1k tokens) plus the
special tokens Qwen2-VL's processor and chat template use.

Usage: python scripts/make_tiny_vlm.py OUT_DIR [--seed 0]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

VOCAB_SIZE = 1024
# The prompt files join the BPE corpus so the prompt tokenizes short enough for a small context.
PROMPTS_DIR = Path(__file__).resolve().parent.parent / "mllm_server" / "chie" / "prompts"
# Qwen2-VL's processor looks these up by text; the config names their ids.
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part or 'image_url' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Corpus for the BPE merges: JSON punctuation and catalogue words, so the schema's keys and
# typical values are a few tokens each.
_CORPUS = [
    '{"primary": ["usb cable"], "auxiliary": ["black"], "content": ["charging"], "form": []}',
    '{"objective": ["2 m", "65 w"], "subjective": ["premium"], "anchors": {"brand": ["anker"],',
    '"codes": ["a8856"], "quantities": ["2 m"], "variant": ["black"]}}',
    "Describe the product in the image and the text as concept levels in JSON.",
    "Apple iPhone 15 Pro Max 256GB Natural Titanium smartphone unlocked",
    "Samsung Galaxy S24 Ultra 512 GB phone black, new in box, free shipping",
    "Sony WH-1000XM5 wireless noise cancelling headphones silver",
    "Adobe Photoshop Elements 2024 for Windows and Mac, retail box, DVD",
    "Logitech MX Master 3S mouse graphite 8000 dpi bluetooth",
    "the a an of and for with in on to by from is are best great new",
    "0123456789 .,:;!?-_/()[]{}\"' abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
]


def build_tokenizer(out: Path) -> dict[str, int]:
    """Train the byte-level BPE and save it as a Qwen2 fast tokenizer; returns special ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    prompts = [p.read_text() for p in sorted(PROMPTS_DIR.glob("*.txt"))]
    tok.train_from_iterator((_CORPUS + prompts) * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    # Let AutoTokenizer/AutoProcessor pick the Qwen2 tokenizer class without a hub lookup.
    config_path = out / "tokenizer_config.json"
    cfg = json.loads(config_path.read_text())
    cfg["tokenizer_class"] = "Qwen2TokenizerFast"
    cfg["chat_template"] = CHAT_TEMPLATE
    config_path.write_text(json.dumps(cfg, indent=2))
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    return {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}


def build_model(out: Path, ids: dict[str, int], seed: int) -> None:
    """Random weights for a 2-layer text model (head_dim 32) and a 1-layer vision tower."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    torch.manual_seed(seed)
    hidden, heads = 64, 2  # head_dim 32: vLLM's CPU attention wants head_dim >= 32
    config = Qwen2VLConfig(
        text_config={
            "vocab_size": VOCAB_SIZE,
            "hidden_size": hidden,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": heads,
            "num_key_value_heads": heads,
            "max_position_embeddings": 2048,
            # mrope sections cover head_dim / 2 = 16 rotary pairs (temporal, height, width).
            "rope_parameters": {"rope_type": "default", "mrope_section": [4, 6, 6]},
            "rope_scaling": {"type": "mrope", "mrope_section": [4, 6, 6]},
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
            "tie_word_embeddings": False,
        },
        vision_config={
            "depth": 1,
            "embed_dim": 64,
            "hidden_size": hidden,  # merger output = text hidden size
            "num_heads": 2,
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        vocab_size=VOCAB_SIZE,
        hidden_size=hidden,
        tie_word_embeddings=False,
    )
    model = Qwen2VLForConditionalGeneration(config).to(torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    generation = {
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
        "pad_token_id": ids["<|endoftext|>"],
    }
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2))


def write_processor(out: Path) -> None:
    """Image processor bounded to few pixels, so an image is <= 16 tokens of a 512 context."""
    min_pixels, max_pixels = 56 * 56, 112 * 112
    preprocessor = {
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2VLProcessor",
        "do_resize": True,
        "do_rescale": True,
        "do_normalize": True,
        "do_convert_rgb": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "rescale_factor": 1 / 255,
        "min_pixels": min_pixels,
        "max_pixels": max_pixels,
        "size": {"shortest_edge": min_pixels, "longest_edge": max_pixels},
        "patch_size": 14,
        "temporal_patch_size": 2,
        "merge_size": 2,
    }
    (out / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    (out / "processor_config.json").write_text(
        json.dumps({"processor_class": "Qwen2VLProcessor"}, indent=2)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    ids = build_tokenizer(args.out)
    build_model(args.out, ids, args.seed)
    write_processor(args.out)
    print(f"tiny Qwen2-VL written to {args.out}")


if __name__ == "__main__":
    main()
