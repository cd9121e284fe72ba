"""A Hugging Face model folder with random weights of a shipped shape and a given tokenizer, for servers that need one.

    python bench/make_hf_folder.py qwen3-0.6b .gputok /tmp/qwen3-0.6b-hf

Where the shape's vocabulary is larger than the tokenizer's (qwen3-0.6b: 151,936 rows, the bundled tokenizer 49,152
ids), the output rows of the ids the tokenizer lacks are zeroed: their logits are 0, far below the largest of the
others, so the model never picks them. Otherwise two tokens of three would be ids that decode to no text, and a
client, which sees text, would time its first token several tokens late (13a_experiments). The shapes and the work
of a step are unchanged.
"""
import json, shutil, sys
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

shape, tok, dst = sys.argv[1:4]
cfg = AutoConfig.for_model(**json.loads((Path(__file__).resolve().parent.parent / 'nano_serve' / 'configs' / f'{shape}.json').read_text()))
with torch.device('cuda' if torch.cuda.is_available() else 'cpu'):
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
known = len(AutoTokenizer.from_pretrained(tok))
with torch.no_grad(): model.get_output_embeddings().weight[known:].zero_()   # ids the tokenizer lacks: never picked
model.save_pretrained(dst)
for f in Path(tok).iterdir(): shutil.copy(f, Path(dst) / f.name)
print('wrote', dst)
