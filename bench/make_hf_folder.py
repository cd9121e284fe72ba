"""A Hugging Face model folder with random weights of a shipped shape and a given tokenizer, for servers that need one.

    python bench/make_hf_folder.py qwen3-0.6b .gputok /tmp/qwen3-0.6b-hf
"""
import json, shutil, sys
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM

shape, tok, dst = sys.argv[1:4]
cfg = AutoConfig.for_model(**json.loads((Path(__file__).resolve().parent.parent / 'nano_serve' / 'configs' / f'{shape}.json').read_text()))
with torch.device('cuda' if torch.cuda.is_available() else 'cpu'):
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
model.save_pretrained(dst)
for f in Path(tok).iterdir(): shutil.copy(f, Path(dst) / f.name)
print('wrote', dst)
