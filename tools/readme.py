"""Write README.md from nbs/index.ipynb: run the notebook (so its tables are read from bench/results/), then write
markdown cells as they are, code cells with their printed output, `#| echo: false` cells as their output alone and
`#| hide` cells not at all. (nbdev_readme needs Quarto, which we don't install.)"""
import os
from pathlib import Path
from execnb.nbio import read_nb
from execnb.shell import CaptureShell


def outputs_text(cell) -> str:
    "The markdown or plain-text outputs of an executed cell."
    md = [''.join(o['data']['text/markdown']) for o in cell.get('outputs', []) if 'text/markdown' in o.get('data', {})]
    if md: return '\n'.join(md)
    return ''.join(''.join(o.get('text', '')) for o in cell.get('outputs', []) if o.get('output_type') == 'stream').strip()


def cell_markdown(cell) -> str:
    "One executed notebook cell as README markdown."
    if cell.cell_type == 'markdown': return cell.source
    src = cell.source.lstrip()
    if src.startswith('#| hide'): return ''
    out = outputs_text(cell)
    if src.startswith('#| echo: false'): return out
    code = '\n'.join(l for l in cell.source.splitlines() if not l.startswith('#|'))
    return f"```python\n{code}\n```" + (f"\n\n```\n{out}\n```" if out else '')


root = Path(__file__).resolve().parent.parent
os.chdir(root / 'nbs')
nb = read_nb('index.ipynb')
CaptureShell().run_all(nb, exc_stop=True)
parts = [cell_markdown(c) for c in nb.cells]
(root / 'README.md').write_text('\n\n'.join(p for p in parts if p.strip())
                                + '\n\n<!-- generated from nbs/index.ipynb by tools/readme.py: edit the notebook -->\n')
