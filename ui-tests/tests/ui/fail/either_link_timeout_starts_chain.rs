// An `Either` that may hold a link timeout cannot start a chain: a link
// timeout must follow the op it bounds.
use std::time::Duration;
use uring::{Either, ops::{LinkTimeout, Nop}};

fn main() {
    let first: Either<LinkTimeout, Nop> = Either::Left(LinkTimeout::new(Duration::from_secs(1)));
    let _chain = first.link(Nop::new());
}
