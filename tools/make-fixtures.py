"""
Architecture parity fixtures (issue 8): tiny random-initialised LlamaForCausalLM (rope_scaling
llama3, untied), Qwen2ForCausalLM (q/k/v biases, tied) and MistralForCausalLM (sliding window)
checkpoints saved by Hugging Face transformers, each with float32 reference logits of every
position for a few prompts. Built from configs, nothing downloaded.

Run where transformers is installed (we ran it on the H200 device machine):
    python3 tools/make-fixtures.py OUT_DIR
Writes OUT_DIR/{llama3-untied,qwen2-tied-bias,mistral-window}/ with config.json, model.safetensors,
tokenizer.json, tokenizer_config.json and golden.json.
"""
import json
import os
import sys

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

OUT = sys.argv[1]
VOCAB = 320

# Our own words, to train a tiny byte-level BPE tokenizer (no data is downloaded).
TEXT = """Spike-driven language models replace dense matrix multiplications with sparse additions.
Each neuron integrates its input and fires when the membrane potential crosses a threshold; the
potential is clipped, so most neurons fire zero or one spike. Weights are stored in four bits.
The quick brown fox jumps over the lazy dog while the river runs past the old mill, and the
children count the boats: one, two, three, four, five. Once upon a time there was a small robot
who liked to read books about the sea, the stars, and the long roads between cities.
""" * 4

PROMPTS = [
    "Once upon a time there was a small robot",
    "The quick brown fox jumps over the lazy dog while the river runs past the old mill, and the children count the boats",
    "Spike-driven language models replace dense matrix multiplications with sparse additions.",
]


def tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<|bos|>", "<|eos|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([TEXT], trainer)
    tok.post_processor = processors.TemplateProcessing(single="<|bos|> $A", special_tokens=[("<|bos|>", 0)])
    return tok


def configs():
    common = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=16, max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=1)
    llama3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
    yield "llama3-untied", transformers.LlamaConfig(**common, tie_word_embeddings=False,
                                                    rope_parameters={"rope_theta": 500000.0, **llama3}), transformers.LlamaForCausalLM
    yield "qwen2-tied-bias", transformers.Qwen2Config(**common, tie_word_embeddings=True,
                                                      rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}), transformers.Qwen2ForCausalLM
    yield "mistral-window", transformers.MistralConfig(**common, tie_word_embeddings=False, sliding_window=16,
                                                       rope_parameters={"rope_type": "default", "rope_theta": 10000.0}), transformers.MistralForCausalLM


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    tok = tokenizer()
    for k, (name, cfg, cls) in enumerate(configs()):
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        torch.manual_seed(1234 + k)
        cfg._attn_implementation = "eager"
        model = cls(cfg).float().eval()
        # HF's default init (std 0.02) gives near-uniform logits; widen it so the test sees real structure.
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if pname.endswith("bias"):
                    p.normal_(0.0, 0.1)
                elif p.dim() == 2:
                    p.normal_(0.0, 0.15)
                else:  # RMSNorm weights: away from 1 so that folding and loading them is tested
                    p.normal_(1.0, 0.2)
        model.save_pretrained(d, safe_serialization=True)
        tok.save(os.path.join(d, "tokenizer.json"))
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"bos_token": "<|bos|>", "eos_token": "<|eos|>", "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 256}, f, indent=2)
        golden = {"model": name, "transformers": transformers.__version__, "torch": torch.__version__,
                  "compute": "float32, eager attention, TF32 off, CPU/GPU as noted", "device": str(next(model.parameters()).device), "prompts": []}
        for text in PROMPTS:
            ids = tok.encode(text).ids
            with torch.no_grad():
                logits = model(torch.tensor([ids])).logits[0]
            golden["prompts"].append({"text": text, "input_ids": ids, "logits": [[float(f"{v:.7g}") for v in row] for row in logits.tolist()]})
        with open(os.path.join(d, "golden.json"), "w") as f:
            json.dump(golden, f)
        print(name, "saved", sorted(os.listdir(d)), "prompt lengths", [len(p["input_ids"]) for p in golden["prompts"]])


main()
