// A `Remote` queues reactor ops, which own their memory: a ring op
// (`uring::ops`) is not one.
use uring::reactor::Reactor;

fn main() {
    let reactor = Reactor::new().unwrap();
    let remote = reactor.handle().remote();
    let _ = remote.queue(uring::ops::Nop::new(), |_res, _out| {});
}
