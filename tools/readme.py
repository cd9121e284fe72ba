"""Write README.md from nbs/index.ipynb: markdown cells as they are, code cells and their text outputs as
fenced blocks, cells marked `#| hide` left out. (nbdev_readme needs Quarto, which we don't install.)"""
from pathlib import Path
import nbformat

def cell_markdown(cell) -> str:
    "One notebook cell as README markdown ('' for hidden cells)."
    if cell.cell_type == 'markdown': return cell.source
    if cell.cell_type != 'code' or cell.source.lstrip().startswith('#| hide'): return ''
    src = '\n'.join(l for l in cell.source.splitlines() if not l.startswith('#|'))
    outs = [o.get('text') or o.get('data', {}).get('text/markdown') or o.get('data', {}).get('text/plain', '')
            for o in cell.get('outputs', [])]
    md_out = [o for o in cell.get('outputs', []) if 'text/markdown' in o.get('data', {})]
    if md_out: return ''.join(o['data']['text/markdown'] for o in md_out)
    text = ''.join(''.join(o) if isinstance(o, list) else o for o in outs).strip()
    return f"```python\n{src}\n```" + (f"\n\n```\n{text}\n```" if text else '')

root = Path(__file__).resolve().parent.parent
nb = nbformat.read(root / 'nbs' / 'index.ipynb', as_version=4)
parts = [cell_markdown(c) for c in nb.cells]
(root / 'README.md').write_text('\n\n'.join(p for p in parts if p.strip())
                                + '\n\n<!-- generated from nbs/index.ipynb by tools/readme.py: edit the notebook -->\n')
