//! `cargo run --release --example reactor_nop -- push|reactor TOTAL`: NOPs,
//! 32 in flight, through `push_unchecked` or through the reactor's
//! callbacks; prints `ops=N secs=S mops=M`. `examples/reactor-compare.sh`
//! counts the instructions of both.

fn main() -> std::process::ExitCode {
    use uring_examples::reactor_bench::{drive, nop_push, nop_reactor};
    drive("reactor_nop", nop_push, nop_reactor)
}
