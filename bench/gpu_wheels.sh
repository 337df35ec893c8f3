#!/usr/bin/env bash
# Fetches, for a GPU machine that reaches no package index, the wheels of every project
# dependency its image lacks (CPython 3.12, x86-64 Linux; it already has CuPy, NumPy,
# SciPy, pytest, hypothesis, rich, Jinja2, Matplotlib, psutil), at the versions
# pyproject.toml pins, into $1 (default .whl). bench/gpu_check.sh installs them there.
# The dependencies' own dependencies are named with the versions this project installs;
# tests/bench/test_gpu_wheels.py fails when one is missing or differs.
set -euo pipefail
DEST=${1:-.whl}
mkdir -p "$DEST"
PLATFORMS=()
for tag in manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_24_x86_64 \
    manylinux_2_27_x86_64 manylinux_2_28_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64 \
    manylinux_2_35_x86_64; do
    PLATFORMS+=(--platform "$tag")
done
pin() { grep -oE "\"$1(\[[a-z]+\])?==[^\"]+\"" pyproject.toml | tr -d '"' | sed 's/\[[a-z]*\]//'; }
PACKAGES=(
    "$(pin eventsourcing)" "$(pin psycopg)" psycopg-binary==3.3.9
    "$(pin psycopg-pool)" "$(pin pycryptodome)" "$(pin grpcio)" "$(pin grpcio-health-checking)"
    "$(pin grpcio-reflection)" "$(pin grpcio-status)" "$(pin protobuf)"
    "$(pin googleapis-common-protos)" "$(pin cryptography)" "$(pin pynacl)" "$(pin rapidfuzz)"
    "$(pin anyascii)" "$(pin pybase64)" "$(pin isal)"
    "$(pin pgserver)" "$(pin typer)" "$(pin prometheus-client)" "$(pin pytest-timeout)"
    cffi==2.1.1 pycparser==3.12 fasteners==0.20 platformdirs==4.14.9 pydantic==2.14.4
    pydantic-core==2.50.5 typing-inspection==0.4.5 annotated-types==0.8.0 annotated-doc==0.0.7
    typing-extensions==4.16.0 shellingham==1.5.4
)
for package in "${PACKAGES[@]}"; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp "${PLATFORMS[@]}" -d "$DEST" "$package"
done
du -sh "$DEST"
