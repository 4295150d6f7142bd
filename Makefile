# Diarist: the two commands of the README are `make demo` and `make test`.
.PHONY: setup demo test lint typecheck infra-test bench clean

setup:
	scripts/setup.sh --with-cdk

demo:
	scripts/setup.sh
	.venv/bin/diarist demo

test:
	scripts/setup.sh --with-cdk --with-browser
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck:
	.venv/bin/mypy

bench:
	.venv/bin/python benchmarks/der.py
	.venv/bin/python benchmarks/speed.py
	.venv/bin/python benchmarks/api_load.py
	.venv/bin/python benchmarks/e2e.py

clean:
	rm -rf .build cdk.out .pytest_cache .mypy_cache .ruff_cache
