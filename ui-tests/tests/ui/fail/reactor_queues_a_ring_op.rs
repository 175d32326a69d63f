// The reactor takes its own ops, which own their memory; the ops of
// `uring::ops` are ring ops.
use uring::reactor::Reactor;

fn main() {
    let reactor = Reactor::new().unwrap();
    reactor
        .handle()
        .queue(uring::ops::Nop::new(), |_, _| {})
        .unwrap();
}
