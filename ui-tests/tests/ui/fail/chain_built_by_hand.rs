// Chains are built by `.link`, `.hard_link` and `.timeout`, whose bounds
// are the chain's rules; the hidden builder beneath them is `unsafe`: a
// link timeout at a chain's head compiles only in an `unsafe` block.
use std::time::Duration;
use uring::op::{LinkKind, link};
use uring::ops::{LinkTimeout, Nop};

fn main() {
    let _chain = link(LinkTimeout::new(Duration::from_secs(1)), Nop::new(), LinkKind::Soft);
}
