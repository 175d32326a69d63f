//! Runnable programs live under `examples/`.
