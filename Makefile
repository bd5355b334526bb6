# The project's commands, one target each; every target runs the plain command it names, so
# nothing here is needed to run them by hand (CONTRIBUTING.md, Commands).
.PHONY: help run test ci lint fmt check-template sam-build bench docs-check

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

run: ## the pipeline locally on the embedded test keys (no AWS account), on port 8787
	cargo run -p hookwarden-cli -- serve --port 8787

test: ## every test: unit, property, Java differential, moto, Runtime API, chaos, template, sam build
	bash scripts/test.sh

ci: ## what CI runs on a fresh machine: prerequisites, format, lints, then every test
	bash .ci/run

lint: ## format check and clippy, as CI runs them
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

fmt: ## format the workspace
	cargo fmt --all

check-template: ## template.yaml: cfn-lint, sam validate, checkov, and its parameter sets
	bash scripts/check-template.sh

sam-build: ## sam build, each bootstrap checked as an aarch64 executable
	bash scripts/sam-build.sh

bench: ## the benchmark (docs/performance.md)
	bash bench/run.sh

docs-check: ## every relative link and #anchor in the Markdown resolves
	python3 scripts/check-links.py
