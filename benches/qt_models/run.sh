#!/bin/sh
# Builds and runs Qt's side of the model benchmarks (benches/models.rs is ours): prints one
# FIGURE line per figure. Needs qt6-remoteobjects-dev qt6-base-dev cmake g++.
# MODEL_ROWS=n for another model size.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-/tmp/qt_models-build}
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 >/dev/null
"$build/qt_models" "${MODEL_ROWS:-1000000}"
