//! `cargo run --release --example reactor_read -- push|reactor TOTAL`:
//! 4 KiB reads of a page-cached file, 32 in flight, through
//! `push_unchecked` or through the reactor (each read owning its buffer);
//! prints `ops=N secs=S mops=M`.

fn main() -> std::process::ExitCode {
    use uring_examples::reactor_bench::{drive, read_push, read_reactor};
    drive("reactor_read", read_push, read_reactor)
}
