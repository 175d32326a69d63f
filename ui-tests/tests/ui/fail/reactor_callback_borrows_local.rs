// A callback runs when the op completes, after `queue` has returned: it
// cannot borrow the caller's locals (share them through an `Rc<Cell<_>>`).
use uring::reactor::{Reactor, ops};

fn main() {
    let reactor = Reactor::new().unwrap();
    let mut done = 0;
    reactor
        .handle()
        .queue(ops::Nop, |_, ()| done += 1)
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(done, 1);
}
