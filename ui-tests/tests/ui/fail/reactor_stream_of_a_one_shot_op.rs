// A stream is of a multishot op; a one-shot op is awaited with `op`.
use uring::reactor::{Reactor, ops};

fn main() {
    let reactor = Reactor::new().unwrap();
    let _ = reactor.handle().stream(ops::Nop);
}
