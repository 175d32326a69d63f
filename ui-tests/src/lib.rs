//! Compile-pass and compile-fail cases live under `tests/`.
