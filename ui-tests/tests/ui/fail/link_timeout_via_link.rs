// A link timeout is appended with `.timeout(..)`, not linked like an op.
use std::time::Duration;
use uring::ops::{LinkTimeout, Nop};

fn main() {
    let _chain = Nop::new().link(LinkTimeout::new(Duration::from_millis(5)));
}
