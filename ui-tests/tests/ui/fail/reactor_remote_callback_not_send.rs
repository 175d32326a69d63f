// A callback given to a `Remote` runs on the reactor's thread: it must be
// `Send`, so it cannot keep an `Rc` of the sending thread.
use std::rc::Rc;
use uring::reactor::{Reactor, ops};

fn main() {
    let reactor = Reactor::new().unwrap();
    let remote = reactor.remote();
    let count = Rc::new(std::cell::Cell::new(0));
    remote
        .queue(ops::Nop, move |_, ()| count.set(count.get() + 1))
        .unwrap();
}
